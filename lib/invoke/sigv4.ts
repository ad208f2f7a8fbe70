/**
 * AWS Signature Version 4 for Lambda Invoke calls (docs/wire-format.md, "SigV4"): just what
 * lrp's fast path needs, pure and synchronous. Time comes in as an argument.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";

/** Credentials as the SDK's providers resolve them. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** A request to sign. Header names must be lower-case. */
export interface SignInput {
  method: string;
  /** Host header value (with `:port` when not the default). */
  host: string;
  /** Path as sent on the wire (already percent-encoded once). */
  path: string;
  /** Query parameters, not encoded. */
  query: Record<string, string>;
  /** Headers to sign besides `host`, `x-amz-date` and `x-amz-security-token`. */
  headers: Record<string, string>;
  body: Uint8Array;
  region: string;
  service: string;
  /** Signing time. */
  date: Date;
}

/**
 * AWS's URI encoding: every byte but `A-Za-z0-9-_.~` as `%XX`; `/` kept
 * when `keepSlash`.
 */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = "";
  for (const ch of text) {
    if (/[A-Za-z0-9\-_.~]/.test(ch) || (keepSlash && ch === "/")) out += ch;
    else {for (const b of new TextEncoder().encode(ch)) {
        out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
      }}
  }
  return out;
}

const keyCache = new Map<string, Buffer>();

function signingKey(secret: string, day: string, region: string, service: string): Buffer {
  const id = `${secret}\n${day}\n${region}\n${service}`;
  let key = keyCache.get(id);
  if (!key) {
    const kDate = createHmac("sha256", "AWS4" + secret).update(day).digest();
    const kRegion = createHmac("sha256", kDate).update(region).digest();
    const kService = createHmac("sha256", kRegion).update(service).digest();
    key = createHmac("sha256", kService).update("aws4_request").digest();
    if (keyCache.size > 64) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

let stampSecond = NaN;
let stampText = "";

/** `YYYYMMDDTHHMMSSZ` (computed once per second). */
export function amzDate(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== stampSecond) {
    stampText = date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    stampSecond = second;
  }
  return stampText;
}

const pathCache = new Map<string, string>();

/** {@linkcode uriEncode} of a path, remembered: lrp signs the same few paths again and again. */
function canonicalPath(path: string): string {
  let c = pathCache.get(path);
  if (c === undefined) {
    c = uriEncode(path, true);
    if (pathCache.size > 1024) pathCache.clear();
    pathCache.set(path, c);
  }
  return c;
}

/**
 * Signs a request and returns the headers to add: `x-amz-date`,
 * `x-amz-security-token` (temporary credentials), `authorization`. The
 * canonical URI is the wire path URI-encoded a second time, as for every
 * service but S3.
 */
export function signRequest(input: SignInput, creds: Credentials): Record<string, string> {
  const stamp = amzDate(input.date);
  const day = stamp.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers, host: input.host, "x-amz-date": stamp };
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const query = Object.keys(input.query).sort()
    .map((k) => `${uriEncode(k, false)}=${uriEncode(input.query[k]!, false)}`).join("&");
  const canonical = [
    input.method,
    canonicalPath(input.path),
    query,
    canonicalHeaders,
    signedHeaders,
    createHash("sha256").update(input.body).digest("hex"),
  ].join("\n");
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${
    createHash("sha256").update(canonical).digest("hex")
  }`;
  const signature = createHmac("sha256", signingKey(creds.secretAccessKey, day, input.region, input.service))
    .update(toSign).digest("hex");
  const out: Record<string, string> = {
    "x-amz-date": stamp,
    authorization:
      `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  if (creds.sessionToken) out["x-amz-security-token"] = creds.sessionToken;
  return out;
}
