// deno-lint-ignore-file no-import-prefix -- lrp pins npm deps inline (no import map)
/**
 * Encodes the two event-stream messages Lambda's InvokeWithResponseStream
 * sends (`PayloadChunk`, `InvokeComplete`), and cuts an encoded stream into
 * the writes a test wants to see on the wire.
 *
 * Framing is done by Smithy's real `EventStreamCodec` (the codec the AWS SDK
 * decodes with), so the fake never hand-rolls CRCs. Header order follows
 * docs/wire-format.md, "Event-stream frames": `:event-type`,
 * `:content-type`, `:message-type`.
 *
 * @module
 */

import { EventStreamCodec } from "npm:@smithy/eventstream-codec@4.5.2";
import { fromUtf8, toUtf8 } from "npm:@smithy/util-utf8@4.5.2";

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Members of the `InvokeComplete` event; all optional, and `{}` on success. */
export interface InvokeCompleteEvent {
  /** Error type when the function failed mid-stream. */
  ErrorCode?: string;
  /** Error details string when the function failed mid-stream. */
  ErrorDetails?: string;
  /** Base64 log tail, when `X-Amz-Log-Type: Tail` was asked for. */
  LogResult?: string;
}

function eventFrame(eventType: string, contentType: string, body: Uint8Array): Uint8Array {
  return codec.encode({
    headers: {
      ":event-type": { type: "string", value: eventType },
      ":content-type": { type: "string", value: contentType },
      ":message-type": { type: "string", value: "event" },
    },
    body,
  });
}

/**
 * Encodes one `PayloadChunk` event. Its payload is the raw chunk bytes (no
 * JSON, no base64), as docs/wire-format.md, "Event-stream frames" says.
 */
export function encodePayloadChunk(chunk: Uint8Array | string): Uint8Array {
  const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
  return eventFrame("PayloadChunk", "application/octet-stream", bytes);
}

/**
 * Encodes the final `InvokeComplete` event. Its payload is JSON; members are
 * written in the order `ErrorCode`, `ErrorDetails`, `LogResult` and absent
 * members are left out, so success encodes as `{}`.
 */
export function encodeInvokeComplete(event: InvokeCompleteEvent = {}): Uint8Array {
  const json: InvokeCompleteEvent = {};
  if (event.ErrorCode !== undefined) json.ErrorCode = event.ErrorCode;
  if (event.ErrorDetails !== undefined) json.ErrorDetails = event.ErrorDetails;
  if (event.LogResult !== undefined) json.LogResult = event.LogResult;
  return eventFrame("InvokeComplete", "application/json", new TextEncoder().encode(JSON.stringify(json)));
}

/**
 * Encodes an event-stream exception message (`:message-type=exception`,
 * `:exception-type=<name>`, JSON payload), which ends a stream with an error.
 */
export function encodeException(type: string, message: string): Uint8Array {
  return codec.encode({
    headers: {
      ":exception-type": { type: "string", value: type },
      ":content-type": { type: "string", value: "application/json" },
      ":message-type": { type: "string", value: "exception" },
    },
    body: new TextEncoder().encode(JSON.stringify({ message })),
  });
}

/**
 * How an encoded stream is cut into socket writes:
 * - `"frame"`: one write per frame (the default);
 * - `"byte"`: one write per byte, the harshest split a decoder can meet;
 * - `number[]`: absolute byte offsets into the whole stream at which to cut,
 *   so a test can split a frame's prelude, headers, payload or CRC exactly where it likes.
 */
export type WritePlan = "frame" | "byte" | readonly number[];

/**
 * Cuts frames into writes according to a {@linkcode WritePlan}. Stateful
 * across frames, because offsets in a `number[]` plan count from the start of
 * the stream, not of each frame.
 */
export class WriteCutter {
  #plan: WritePlan;
  #position = 0;

  /** Creates a cutter for one stream. */
  constructor(plan: WritePlan = "frame") {
    this.#plan = plan;
  }

  /** Returns the writes that carry `frame`, which follows everything cut so far. */
  cut(frame: Uint8Array): Uint8Array[] {
    const start = this.#position;
    const end = start + frame.length;
    this.#position = end;
    if (this.#plan === "frame") return [frame];
    if (this.#plan === "byte") return Array.from(frame, (_, i) => frame.subarray(i, i + 1));
    const cuts = [...new Set(this.#plan)].filter((offset) => offset > start && offset < end).sort((a, b) =>
      a - b
    );
    const writes: Uint8Array[] = [];
    let from = 0;
    for (const offset of cuts) {
      writes.push(frame.subarray(from, offset - start));
      from = offset - start;
    }
    writes.push(frame.subarray(from));
    return writes;
  }
}
