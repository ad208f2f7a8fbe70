/**
 * Per-request ids, cheap: trace ids from a pool of random bytes with the
 * `Root=1-{seconds}-` head formatted once a second, request ids from a random
 * prefix and a counter.
 *
 * @module
 */

/**
 * A source of request ids shaped as UUIDs: a random version-4 UUID's first 24
 * characters (version and variant included) and a 12-hex-digit counter. Unique
 * within the process (2^48 ids) and, by the random prefix, across processes;
 * no `crypto.randomUUID()` per request.
 */
export function requestIds(): () => string {
  const prefix = crypto.randomUUID().slice(0, 24);
  let counter = 0;
  return () => prefix + (counter++).toString(16).padStart(12, "0");
}

const HEX = "0123456789abcdef";

/** A new X-Ray trace id, `Root=1-{epoch seconds hex}-{96 random bits hex}`, as AWS adds one. */
export function newTraceId(epochMs: number): string {
  // Random bytes drawn 4 KB at a time, and the `Root=1-{seconds}-` head formatted once a second.
  if (randomAt + 12 > randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  let rand = "";
  for (let i = randomAt; i < randomAt + 12; i++) rand += HEX_BYTE[randomPool[i]!]!;
  randomAt += 12;
  const second = Math.floor(epochMs / 1000);
  if (second !== traceSecond) {
    traceSecond = second;
    traceHead = `Root=1-${second.toString(16).padStart(8, "0")}-`;
  }
  return traceHead + rand;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => HEX[b >> 4]! + HEX[b & 15]!);
const randomPool = new Uint8Array(4096);
let randomAt = randomPool.length;
let traceSecond = NaN;
let traceHead = "";
