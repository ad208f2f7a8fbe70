/**
 * One invocation bounded by the upstream timeout and cancelled when the
 * client goes away: both reach the invoker as one abort signal.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import { LrpError } from "../errors.ts";
import type { Deadlines } from "../invoke/deadline.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../invoke/types.ts";

/**
 * Invokes `invoker`, aborting with `upstream_timeout` once the generation's
 * deadline passes and with `client_closed` when `clientSignal` aborts.
 */
export async function invokeWithTimeout(
  invoker: Invoker,
  call: Omit<InvokeRequest, "signal">,
  clientSignal: AbortSignal,
  config: Config,
  deadlines: Deadlines,
): Promise<InvokeResult> {
  const controller = new AbortController();
  const onClientAbort = () =>
    controller.abort(new LrpError("client_closed", "Cannot answer: the client closed the connection"));
  clientSignal.addEventListener("abort", onClientAbort, { once: true });
  const deadline = deadlines.add(() =>
    controller.abort(
      new LrpError(
        "upstream_timeout",
        `Cannot invoke ${invoker.describe}: no answer within ${config.upstreamTimeoutMs} ms`,
      ),
    )
  );
  try {
    return await invoker.invoke({ ...call, signal: controller.signal });
  } finally {
    deadline.cancel();
    clientSignal.removeEventListener("abort", onClientAbort);
  }
}
