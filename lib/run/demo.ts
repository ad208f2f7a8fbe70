/**
 * `lrp demo`: example Lambda handlers behind an RIE-compatible local endpoint,
 * with lrp in front, so a newcomer sees the whole path work with nothing else
 * running. Everything is embedded: no files are read.
 *
 * @module
 */

import { startLrp } from "./serve.ts";
import type { Config } from "../config/types.ts";
import type { Logger } from "../obs/log.ts";
import { type LambdaHandler, preludeBody, RawPayload, startRie } from "./rie_emulator.ts";

/**
 * Defaults the demo changes, as environment values under the user's own
 * (`LRP_INSPECT=false lrp demo` still switches the inspector off): a
 * newcomer's first question is what the function saw.
 */
export const DEMO_DEFAULTS: Readonly<Record<string, string>> = { LRP_INSPECT: "true" };

/** The demo's functions, by host name. */
export const DEMO_HANDLERS: Record<
  string,
  { handler: LambdaHandler; about: string; curl: string; extra?: string }
> = {
  "hello.localhost": {
    about: "a structured result with a cookie",
    curl: "/hello?name=lrp",
    handler: (event) => {
      const e = event as { queryStringParameters?: Record<string, string> };
      const name = e.queryStringParameters?.name ?? "world";
      return {
        statusCode: 200,
        headers: { "content-type": "text/plain; charset=utf-8" },
        cookies: ["visited=1; Path=/"],
        body: `Hello, ${name}! (from a Lambda handler, through lrp)\n`,
      };
    },
  },
  "echo.localhost": {
    about: "returns the payload 2.0 event it received",
    curl: "/any/path%2Fencoded?x=1&x=2",
    extra: `-H 'Cookie: a=1; b=2' -H 'content-type: application/json' -d '{"json":true}'`,
    handler: (event) => ({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(event, null, 2) + "\n",
    }),
  },
  "stream.localhost": {
    about: "a streaming (HttpResponseStream) handler, as the RIE returns it",
    curl: "/",
    handler: () =>
      new RawPayload(preludeBody(
        { statusCode: 200, headers: { "content-type": "text/plain" }, cookies: ["streamed=yes"] },
        "chunk 1\nchunk 2\nchunk 3\n",
      )),
  },
  "fail.localhost": {
    about: "a handler that throws (lrp answers 502)",
    curl: "/",
    handler: () => {
      throw new Error("this handler always fails");
    },
  },
};

/**
 * Runs the demo until `waitForStop` resolves: one RIE-compatible endpoint per
 * handler on 127.0.0.1, lrp in front with a local rule for each, and the
 * `curl` commands to try printed on stdout. Returns the exit code.
 */
export async function runDemo(
  base: Config,
  log: Logger,
  version: string,
  waitForStop: (finished: Promise<void>) => Promise<string | undefined>,
  print: (text: string) => void,
): Promise<number> {
  const endpoints = Object.entries(DEMO_HANDLERS).map(([hostname, d]) => ({
    hostname,
    rie: startRie({ handler: d.handler, onConcurrent: "reject400" }),
  }));
  const config: Config = {
    ...base,
    source: "<demo>",
    host: base.source === "<demo>" && base.host === "0.0.0.0" ? "127.0.0.1" : base.host,
    rules: endpoints.map(({ hostname, rie }) => ({
      kind: "local",
      hostname,
      endpoint: rie.url,
      concurrency: 1,
      queueLimit: base.queueLimit,
      queueTimeoutMs: base.queueTimeoutMs,
      line: 0,
    })),
  };
  let running;
  try {
    running = startLrp(config, log, version);
  } catch (err) {
    for (const e of endpoints) await e.rie.shutdown();
    log.error("demo cannot listen", {
      address: `${config.host}:${config.port}`,
      error: err instanceof Error ? err.message : String(err),
    });
    return 1;
  }
  const port = running.addr.port;
  const lines = [`lrp demo is running on http://127.0.0.1:${port} — try (Ctrl-C to stop):`, ""];
  for (const [hostname, d] of Object.entries(DEMO_HANDLERS)) {
    lines.push(`  # ${hostname}: ${d.about}`);
    lines.push(
      `  curl -i -H 'Host: ${hostname}' ${d.extra ? `${d.extra} ` : ""}'http://127.0.0.1:${port}${d.curl}'`,
    );
  }
  lines.push("", `  curl http://127.0.0.1:${port}/healthz`);
  if (config.inspect) {
    lines.push(
      "",
      `See what each function saw: http://127.0.0.1:${port}${config.internalRoutePrefix}/inspect`,
    );
  }
  print(lines.join("\n"));
  const signal = await waitForStop(running.finished);
  if (signal) log.info("shutting down", { signal });
  await running.shutdown();
  for (const e of endpoints) await e.rie.shutdown();
  return 0;
}
