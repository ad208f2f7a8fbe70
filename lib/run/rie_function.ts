/**
 * What a function run by the in-process RIE (`rie_emulator.ts`) sees and
 * returns, modelled on the Node.js runtime: the handler and context types, raw
 * and streaming results, a simulated runtime exit, and the runtime's error JSON.
 *
 * @module
 */

/** The subset of the Node.js Lambda context that handlers here receive. */
export interface LambdaContext {
  /** A fresh UUID per invocation; the RIE never returns it to the caller. */
  awsRequestId: string;
  /** `arn:aws:lambda:us-east-1:012345678912:function:test_function`, as the RIE reports it. */
  invokedFunctionArn: string;
  /** Milliseconds left before the invocation times out. */
  getRemainingTimeInMillis(): number;
}

/**
 * A Node.js-style Lambda handler: returns (or resolves to) the result, which is
 * sent as `JSON.stringify(result ?? null)`, or a {@linkcode RawPayload} to send
 * exact bytes. Throwing {@linkcode RuntimeExit} simulates a crashed runtime.
 */
export type LambdaHandler = (event: unknown, context: LambdaContext) => unknown;

/** A handler result sent verbatim, such as a streaming body made by {@linkcode preludeBody}. */
export class RawPayload {
  /** The exact response bytes. */
  readonly bytes: Uint8Array;

  /** Wraps bytes (or UTF-8 text) to be sent as they are. */
  constructor(bytes: Uint8Array | string) {
    this.bytes = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  }
}

/**
 * Thrown by a handler to simulate the runtime process exiting mid-invocation:
 * the RIE answers 502 with a `Runtime.ExitError` JSON.
 */
export class RuntimeExit extends Error {
  /** The exit status the runtime process reports. */
  readonly exitStatus: number;

  /** Creates an exit with the given status (default 1). */
  constructor(exitStatus = 1) {
    super(`Runtime exited with error: exit status ${exitStatus}`);
    this.name = "RuntimeExit";
    this.exitStatus = exitStatus;
  }
}

/**
 * The body of a Function URL streaming response as the classic RIE returns it
 * for a handler using `awslambda.HttpResponseStream.from` (docs/wire-format.md, "Response streaming", "The RIE"):
 * `JSON.stringify(prelude)`, exactly eight `0x00` bytes, then the body.
 */
export function preludeBody(
  prelude: { statusCode: number; headers?: Record<string, string>; cookies?: string[] },
  body: Uint8Array | string,
): Uint8Array {
  const encoder = new TextEncoder();
  const head = encoder.encode(JSON.stringify(prelude));
  const tail = typeof body === "string" ? encoder.encode(body) : body;
  const out = new Uint8Array(head.length + 8 + tail.length);
  out.set(head, 0);
  out.set(tail, head.length + 8);
  return out;
}

/** The Node runtime's error JSON (`toRapidResponse` in aws-lambda-nodejs-runtime-interface-client). */
export function errorJson(error: unknown): string {
  if (error instanceof Error) {
    return JSON.stringify({
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? "").split("\n"),
    });
  }
  return JSON.stringify({ errorType: typeof error, errorMessage: String(error), trace: [] });
}
