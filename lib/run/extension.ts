/**
 * lrp as a Lambda **extension**: a process beside the function, serving lrp
 * on localhost so the function (or a web adapter) can call other Lambda
 * targets through it. It registers with the Extensions API, then waits for
 * events until `SHUTDOWN`.
 *
 * Extensions API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html
 *
 * @module
 */

import type { Logger } from "../obs/log.ts";

/** The Extensions API version path. */
export const EXTENSION_PATH = "/2020-01-01/extension";

/** Options of {@linkcode runExtension}. */
export interface ExtensionOptions {
  /** `AWS_LAMBDA_RUNTIME_API`: `host:port` of the Extensions API. */
  api: string;
  /** Must be the file name of the extension in `/opt/extensions/`. */
  name: string;
  log: Logger;
  fetch?: typeof fetch;
}

/** One event from `GET …/event/next`. */
export interface ExtensionEvent {
  eventType: "INVOKE" | "SHUTDOWN";
  deadlineMs?: number;
  requestId?: string;
  shutdownReason?: string;
}

/**
 * Registers for `INVOKE` and `SHUTDOWN` (`POST …/register` with
 * `Lambda-Extension-Name`; the answer's `Lambda-Extension-Identifier`
 * authenticates every later call), then asks for the next event in a loop.
 * `INVOKE` needs nothing from lrp: asking for the next event tells Lambda
 * the extension is ready. Resolves with the shutdown reason on `SHUTDOWN`.
 * Call it once lrp is listening: Lambda starts invoking after every
 * extension has registered.
 */
export async function runExtension(options: ExtensionOptions): Promise<string> {
  const { api, name, log } = options;
  const fetchFn = options.fetch ?? fetch;
  const base = `http://${api}${EXTENSION_PATH}`;
  const registered = await fetchFn(`${base}/register`, {
    method: "POST",
    headers: { "lambda-extension-name": name, "content-type": "application/json" },
    body: JSON.stringify({ events: ["INVOKE", "SHUTDOWN"] }),
  });
  const id = registered.headers.get("lambda-extension-identifier");
  await registered.body?.cancel();
  if (!registered.ok || !id) {
    throw new Error(`Cannot register the extension "${name}": Extensions API answered ${registered.status}`);
  }
  log.info("registered as a Lambda extension", { name });
  for (;;) {
    const next = await fetchFn(`${base}/event/next`, { headers: { "lambda-extension-identifier": id } });
    if (!next.ok) {
      await next.body?.cancel();
      throw new Error(`Cannot get the next extension event: Extensions API answered ${next.status}`);
    }
    const event = await next.json() as ExtensionEvent;
    if (event.eventType === "SHUTDOWN") return event.shutdownReason ?? "unknown";
    log.debug("extension event", { eventType: event.eventType, awsRequestId: event.requestId });
  }
}
