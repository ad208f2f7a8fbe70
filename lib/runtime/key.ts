/**
 * A runtime process's key: the secret in its `AWS_LAMBDA_RUNTIME_API` path
 * that admits its Runtime API calls and opens its private channel.
 *
 * @module
 */

/** A fresh 128-bit key, hex. */
export function newKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}

/** Compares in time independent of where the strings differ (a key must not leak byte by byte). */
export function sameKey(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
