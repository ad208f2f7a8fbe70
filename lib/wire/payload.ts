/**
 * An invocation payload: the encoded event as bytes, or — for a large binary
 * body under payload format 2.0 — a {@linkcode SplicedPayload} whose base64
 * body is produced piece by piece while it is written, so that neither the
 * 1.33× base64 text nor a second whole copy of the event ever exists
 * (docs/performance.md, round 4). Pure.
 *
 * @module
 */

import { encodeBase64 } from "../bytes.ts";

const encoder = new TextEncoder();
/** Raw bytes per base64 piece: a multiple of 3, so pieces concatenate to the base64 of the whole. */
const RAW_PIECE = 48 * 1024;

/** An encoded event in three parts: JSON before the body's text, the raw body (sent base64), JSON after. */
export class SplicedPayload {
  /** Bytes on the wire. */
  readonly length: number;

  /** Creates the payload; `head` ends just inside the body string's opening quote, `tail` starts at its close. */
  constructor(readonly head: Uint8Array, readonly raw: Uint8Array, readonly tail: Uint8Array) {
    this.length = head.length + base64Length(raw.length) + tail.length;
  }

  /**
   * The payload in order: the head, the body's base64 48 KiB of input at a
   * time, the tail. Pieces of the body share one buffer: use each before
   * asking for the next.
   */
  *pieces(): Generator<Uint8Array> {
    yield this.head;
    const out = new Uint8Array(base64Length(Math.min(RAW_PIECE, this.raw.length)));
    for (let at = 0; at < this.raw.length; at += RAW_PIECE) {
      const text = encodeBase64(this.raw.subarray(at, at + RAW_PIECE));
      yield out.subarray(0, encoder.encodeInto(text, out).written);
    }
    yield this.tail;
  }

  /** The whole payload in one array, for the paths that need it whole. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const piece of this.pieces()) {
      out.set(piece, at);
      at += piece.length;
    }
    return out;
  }
}

/** An event ready to send: bytes, or a body spliced in as it is written. */
export type Payload = Uint8Array | SplicedPayload;

/** The payload as one array of bytes. */
export function payloadBytes(payload: Payload): Uint8Array {
  return payload instanceof SplicedPayload ? payload.bytes() : payload;
}

/** Length of the base64 text of `n` bytes. */
function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

const BASE64_FLAG = ',"isBase64Encoded":true}';

/**
 * Splices `raw` as the base64 `body` into the JSON of a 2.0 event that has
 * no body and `isBase64Encoded: true` (its last key, as AWS orders them):
 * `…,"body":"<base64>","isBase64Encoded":true}`.
 */
export function spliceBody(json: string, raw: Uint8Array): SplicedPayload {
  if (!json.endsWith(BASE64_FLAG)) {
    throw new TypeError("Cannot splice a body into an event whose last key is not isBase64Encoded: true");
  }
  const head = encoder.encode(`${json.slice(0, -BASE64_FLAG.length)},"body":"`);
  const tail = encoder.encode(`"${BASE64_FLAG}`);
  return new SplicedPayload(head, raw, tail);
}
