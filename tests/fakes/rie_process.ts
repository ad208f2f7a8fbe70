/**
 * A fake RIE container as a child process, for fault tests: it prints its URL
 * as the first stdout line, then serves {@linkcode startRie} with a built-in
 * handler, and **exits the process with status 2** (like the Go panic of the
 * real RIE, docs/wire-format.md, "The RIE") when a second invocation arrives while one is in flight.
 *
 * ```sh
 * deno run -A tests/fakes/rie_process.ts --port 0 --mode echo --delay-ms 200
 * ```
 *
 * Modes:
 * - `echo`: a payload-2.0 result whose JSON body is the event;
 * - `throw`: throws `Error("boom")` (200 with the error JSON);
 * - `timeout`: never answers before `--timeout-ms` (default 1000);
 * - `exit`: the runtime exits (502 `Runtime.ExitError`);
 * - `stream`: the prelude-framed body of an `HttpResponseStream.from` handler.
 *
 * `--delay-ms` delays every answer; `--timeout-ms` sets the function timeout.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type LambdaHandler, preludeBody, RawPayload, RuntimeExit, startRie } from "./rie.ts";

/** The built-in handlers, by mode name. */
export const MODES: Record<string, LambdaHandler> = {
  echo: (event) => ({
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event),
  }),
  throw: () => {
    throw new Error("boom");
  },
  timeout: () => new Promise(() => {}),
  exit: () => {
    throw new RuntimeExit(1);
  },
  stream: () =>
    new RawPayload(
      preludeBody({ statusCode: 200, headers: { "content-type": "text/plain" }, cookies: ["a=1"] }, "hello"),
    ),
};

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      hostname: { type: "string", default: "127.0.0.1" },
      mode: { type: "string", default: "echo" },
      "delay-ms": { type: "string", default: "0" },
      "timeout-ms": { type: "string", default: "1000" },
    },
  });
  const mode = MODES[values.mode];
  if (mode === undefined) {
    console.error(`Cannot start fake RIE: unknown mode ${values.mode} (${Object.keys(MODES).join(", ")})`);
    Deno.exit(64);
  }
  const delayMs = Number(values["delay-ms"]);
  const rie = startRie({
    hostname: values.hostname,
    port: Number(values.port),
    timeoutMs: Number(values["timeout-ms"]),
    onConcurrent: "crash",
    onCrash: () => Deno.exit(2),
    handler: async (event, context) => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return await mode(event, context);
    },
  });
  console.log(rie.url);
}
