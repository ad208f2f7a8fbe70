/**
 * What the payload 1.0 and ALB shapes share and 2.0 does not: queries and
 * headers as multi-value maps, in both directions.
 *
 * Pure.
 *
 * @module
 */

import type { EventV2 } from "./event.ts";
import {
  appendResultHeader,
  badResult,
  checkStatus,
  isPlainObject,
  parseResultJson,
  ResultHeaders,
} from "./response.ts";

/** A raw query split into keys with all their values, decoded or raw; `null` for no query. */
export function queryValues(
  query: string,
  decode: (s: string) => string,
): Record<string, string[]> | null {
  if (query === "") return null;
  const out: Record<string, string[]> = {};
  let any = false;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? "" : decode(part.slice(eq + 1));
    (out[key] ??= []).push(value);
    any = true;
  }
  return any ? out : null;
}

/** The last value of every key, as single-value maps hold it. */
export function lastValues(multi: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(multi)) out[k] = v[v.length - 1]!;
  return out;
}

/**
 * The request headers of a 2.0 event as 1.0 carries them: the `cookie`
 * header put back (2.0 moves it to `cookies`). Names are lower-case, as the
 * HTTP API documents for both formats (a REST API would keep the client's
 * casing, which Deno does not expose). Repeated header lines arrive joined
 * with `, ` by Deno, so each name has one value in `multiValueHeaders`.
 */
export function eventHeaders(event: EventV2): Record<string, string> {
  const headers = { ...event.headers };
  if (event.cookies) headers.cookie = event.cookies.join("; ");
  return headers;
}

/**
 * Appends `multiValueHeaders` (arrays of values) and the single `headers`
 * a result carries; for a name in both, only the `multiValueHeaders` values
 * are used.
 */
export function mergedResultHeaders(single: unknown, multi: unknown, method = "GET"): ResultHeaders {
  const keepLength = method === "HEAD";
  const headers = new ResultHeaders();
  const multiNames = new Set<string>();
  if (multi !== undefined && multi !== null) {
    if (!isPlainObject(multi)) throw badResult("`multiValueHeaders` must be an object of string arrays");
    for (const [name, values] of Object.entries(multi)) {
      if (values === null || values === undefined) continue;
      if (!Array.isArray(values)) throw badResult(`multiValueHeaders "${name}" must be an array`);
      multiNames.add(name.toLowerCase());
      for (const v of values) appendResultHeader(headers, name, v, keepLength);
    }
  }
  if (single !== undefined && single !== null) {
    if (!isPlainObject(single)) throw badResult("`headers` must be an object of strings");
    for (const [name, v] of Object.entries(single)) {
      if (!multiNames.has(name.toLowerCase())) appendResultHeader(headers, name, v, keepLength);
    }
  }
  return headers;
}

/**
 * A 1.0 or ALB result's JSON, which (unlike 2.0) has no inferred form: an
 * object with a valid `statusCode`, or `bad_result` naming `what`.
 */
export function statusResult(
  payload: Uint8Array,
  what: string,
): { parsed: Record<string, unknown>; status: number } {
  const parsed = parseResultJson(payload);
  if (!isPlainObject(parsed) || !("statusCode" in parsed)) {
    throw badResult(`${what} must be an object with statusCode`);
  }
  return { parsed, status: checkStatus(parsed.statusCode) };
}
