/**
 * An in-process lrp for handler, fault, edge and security tests: on a real
 * socket with the same wiring as `startLrp` (the test keeps the router, to read
 * each endpoint's `SlotQueue.stats`, and the log lines), or as a bare handler
 * whose every rule calls one invoker the test supplies.
 *
 * @module
 */

import { buildRouter, refusals } from "../../lib/run/serve.ts";
import { serveResilient } from "../../lib/run/listen.ts";
import { errorResponse } from "../../lib/errors.ts";
import { startRie } from "../fakes/rie.ts";
import { createRouter } from "../../lib/route/router.ts";
import type { Config } from "../../lib/config/types.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LocalInvoker } from "../../lib/invoke/local.ts";
import type { QueueStats } from "../../lib/invoke/queue.ts";
import { createLogger, type Logger, silentLogger } from "../../lib/obs/log.ts";
import { createHandler, type Handler } from "../../lib/run/handler.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../../lib/invoke/types.ts";
import { payloadBytes } from "../../lib/wire/payload.ts";

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
  // lrp's own server, as `startLrp` serves it.
  const server = serveResilient({
    hostname: config.host,
    port: config.port,
    log,
    limits: {
      headerTimeoutMs: config.headerTimeoutMs,
      idleTimeoutMs: config.idleTimeoutMs,
      sendTimeoutMs: config.sendTimeoutMs,
    },
    refuse: refusals(log),
    onError: (err) => errorResponse(err, { requestId: "bug", exposeDetails: false }),
    handler: (request, info) => handler.current!(request, info),
  });
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

/**
 * An in-process lrp whose one rule, `fn.test`, calls the fake RIE (`tests/fakes/rie.ts`);
 * `answer` makes the function's result (by default the event, as JSON).
 * `invocations()` counts the calls that reached the function.
 */
export function echoLrp(
  extra = "",
  answer: (event: unknown) => unknown = (event) => ({
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event),
  }),
) {
  const rie = startRie({ handler: answer });
  const lrp = serveLrp(`${extra}local:\n${localRule("fn.test", rie.url)}`);
  return {
    lrp,
    invocations: () => rie.stats.invocations,
    async [Symbol.asyncDispose]() {
      await lrp.close();
      await rie.shutdown();
    },
  };
}

/** A rule line for `local:`. */
export function localRule(hostname: string, endpoint: string, extra = ""): string {
  return `  - hostname: ${hostname}\n    endpoint: ${endpoint}\n${extra}`;
}

const te = new TextEncoder();
const td = new TextDecoder();

/** An invoker that records each event and answers with a scripted result. */
export class RecordingInvoker implements Invoker {
  readonly describe = "recording";
  readonly events: Record<string, unknown>[] = [];
  constructor(
    readonly answer: (req: InvokeRequest) => Promise<InvokeResult> | InvokeResult = () => ({
      body: te.encode('{"statusCode":200,"body":"ok"}'),
    }),
  ) {}
  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    this.events.push(JSON.parse(td.decode(payloadBytes(req.payload))));
    return await this.answer(req);
  }
}

/** Options of {@linkcode handlerWith}. */
export interface HandlerOptions {
  /** The port lrp reports in `x-forwarded-port` (8080 unless set). */
  listenPort?: number;
  log?: Logger;
  newRequestId?: () => string;
}

/**
 * The handler of configuration `yaml` with every rule calling `invoker`: the
 * request path from admission to the response, without real upstreams.
 */
export function handlerWith(
  yaml: string,
  invoker: Invoker,
  options: HandlerOptions = {},
): { config: Config; handler: Handler } {
  const config = parseConfig(yaml, { source: "t.yaml" });
  const handler = createHandler({
    config,
    router: createRouter(config.rules, () => invoker),
    log: options.log ?? silentLogger,
    version: "test",
    listenPort: options.listenPort ?? 8080,
    ...(options.newRequestId && { newRequestId: options.newRequestId }),
  });
  return { config, handler };
}
