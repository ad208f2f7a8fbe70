/**
 * The constants of the Lambda Runtime Interface Emulator (RIE) that lrp's
 * local invoker, its in-process emulator and the tests share: defined once.
 *
 * @module
 */

/** The only path the classic RIE routes to the function (`internal/lambda/rie/http.go:20`). */
export const RIE_INVOKE_PATH = "/2015-03-31/functions/function/invocations";

/**
 * The RIE's cap on an event and on a result: 6 MiB + 100 B
 * (`interop/model.go:23`), also the size AWS names in
 * `Function.ResponseSizeTooLarge`. lrp reads no longer answer from an RIE:
 * anything longer is not a Lambda result, and reading it whole would let one
 * endpoint exhaust lrp's memory.
 */
export const RIE_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024 + 100;
