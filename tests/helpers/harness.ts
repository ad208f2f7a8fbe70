/**
 * An in-process lrp on a real socket for fault, edge and security tests: the
 * same wiring as `startLrp`, but the test keeps the router (to read each
 * endpoint's `SlotQueue.stats`) and the log lines.
 *
 * @module
 */

import { buildRouter } from "../../lib/run/serve.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LocalInvoker } from "../../lib/invoke/local.ts";
import type { QueueStats } from "../../lib/invoke/queue.ts";
import { createLogger } from "../../lib/obs/log.ts";
import { createHandler } from "../../lib/run/handler.ts";

/** A running in-process lrp. */
export interface TestLrp extends AsyncDisposable {
  port: number;
  /** Parsed JSON log lines so far. */
  lines: Record<string, unknown>[];
  /** Queue state of the local rule for `hostname`. */
  stats(hostname: string): QueueStats;
  /** Stops the server and closes every invoker's connections. */
  close(): Promise<void>;
}

/** Serves `yaml` (listening on 127.0.0.1, port 0) with a debug-level log captured in `lines`. */
export function serveLrp(yaml: string): TestLrp {
  const config = parseConfig(`host: 127.0.0.1\nport: 0\n${yaml}`, { source: "test.yaml" });
  const router = buildRouter(config);
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("debug", (line) => lines.push(JSON.parse(line)));
  const handler: { current?: ReturnType<typeof createHandler> } = {};
  const server = Deno.serve(
    { hostname: config.host, port: config.port, onListen: () => {} },
    (request, info) => handler.current!(request, info),
  );
  const port = (server.addr as Deno.NetAddr).port;
  handler.current = createHandler({ config, router, log, version: "test", listenPort: port });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      await server.shutdown();
      for (const r of router.routes) await r.target.close?.();
    })();
  return {
    port,
    lines,
    stats(hostname) {
      const target = router.routes.find((r) => r.rule.hostname === hostname)?.target;
      if (!(target instanceof LocalInvoker)) throw new TypeError(`Cannot find a local rule for ${hostname}`);
      return target.queue.stats;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A rule line for `local:`. */
export function localRule(hostname: string, endpoint: string, extra = ""): string {
  return `  - hostname: ${hostname}\n    endpoint: ${endpoint}\n${extra}`;
}

/** Opens a raw connection and sends `head` (plus the blank line) and `body`; the caller reads or closes. */
export async function openRequest(port: number, head: string, body = ""): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`${head}\r\n\r\n${body}`));
  return conn;
}

/** Reads from `conn` until the peer closes; returns the text. */
export async function readAll(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}

/** Reads one response with a `Content-Length` body from `conn` (without waiting for the peer to close). */
export async function readResponse(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
}
