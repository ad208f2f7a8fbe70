/**
 * Byte helpers shared by the readers of request bodies, upstream answers and
 * the RIE emulator: joining chunks, reading a stream whole within a cap, and
 * base64 through Node's native codec.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Joins chunks into one array; a single chunk is returned as it is, without a copy. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Standard base64 (with padding) of bytes. */
export function encodeBase64(bytes: Uint8Array): string {
  // Node's native codec: about 10x faster than btoa over a binary string for 1 MB bodies.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Strict base64 decoding; throws `TypeError` on anything but standard base64. */
export function decodeBase64(text: string): Uint8Array {
  const clean = text.replace(/[\r\n]/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new TypeError("Cannot decode base64: invalid characters or length");
  }
  // Validated above, because Buffer itself would silently skip bad characters.
  const buf = Buffer.from(clean, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Reads a body whole, or stops and cancels it once it passes `max` bytes and
 * resolves `undefined`. `null` (no body) reads as no bytes. A stream that
 * fails midway rejects, or with `keepPartial` ends what was read so far (a peer
 * that dropped the connection sent what arrived).
 */
export async function readAtMost(
  body: ReadableStream<Uint8Array> | null,
  max: number,
  options: { keepPartial?: boolean } = {},
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } catch (err) {
    if (!options.keepPartial) throw err;
  }
  return concatBytes(chunks);
}
