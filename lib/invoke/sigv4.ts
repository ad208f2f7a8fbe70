/**
 * AWS Signature Version 4 for Lambda Invoke calls (docs/wire-format.md, "SigV4"): just what
 * lrp's fast path needs, pure and synchronous. Time comes in as an argument.
 *
 * `node:crypto` costs some fifteen milliseconds of start-up, so it is loaded
 * by {@linkcode loadSigner} (the AWS invoker awaits it with the SDK) and only
 * configurations with `aws:` rules pay for it.
 *
 * @module
 */

import type * as NodeCrypto from "node:crypto";
import { type Payload, SplicedPayload } from "../wire/payload.ts";
import { perSecond } from "../time.ts";

let nodeCrypto: typeof NodeCrypto | undefined;
let loading: Promise<void> | undefined;

/** Loads `node:crypto` for {@linkcode signRequest}; idempotent. Await it before the first signature. */
export function loadSigner(): Promise<void> {
  return loading ??= import("node:crypto").then((m) => {
    nodeCrypto = m;
  });
}

function crypto(): typeof NodeCrypto {
  if (!nodeCrypto) throw new Error("Cannot sign a request: node:crypto is not loaded (await loadSigner())");
  return nodeCrypto;
}

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
  /** The body; a spliced event is hashed piece by piece. */
  body: Payload;
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

/**
 * A SigV4 signing key as its two HMAC pad blocks: HMAC-SHA256 is
 * `H(key ^ opad ‖ H(key ^ ipad ‖ msg))`, so a signature costs two one-shot
 * hashes over scratch buffers that start with the pads, instead of a fresh
 * `createHmac` (~10 µs a call) or copies of saved hash states.
 */
interface PaddedKey {
  /** The inner pad, then room for the message. */
  inner: Uint8Array;
  /** The outer pad, then room for the inner digest. */
  outer: Uint8Array;
}

/** The longest string to sign a padded key takes: a few hundred bytes suffice for any region or service. */
const MAX_TO_SIGN = 1024;

function padKey(key: Uint8Array): PaddedKey {
  const inner = new Uint8Array(64 + MAX_TO_SIGN);
  const outer = new Uint8Array(64 + 32);
  for (let i = 0; i < 64; i++) {
    const b = i < key.length ? key[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
  return { inner, outer };
}

const utf8 = new TextEncoder();

function hmacHex(key: PaddedKey, message: string): string {
  const { hash } = crypto();
  const { read, written } = utf8.encodeInto(message, key.inner.subarray(64));
  if (read < message.length) throw new Error("Cannot sign: the string to sign is too long");
  // Hex out and back: a one-shot hash to a hex string costs a fraction of one to a Buffer.
  const digest = hash("sha256", key.inner.subarray(0, 64 + written), "hex") as string;
  const outer = key.outer;
  for (let i = 0; i < 32; i++) outer[64 + i] = hexByte(digest, 2 * i);
  return hash("sha256", outer, "hex") as string;
}

function hexByte(hex: string, at: number): number {
  return (hexDigit(hex.charCodeAt(at)) << 4) | hexDigit(hex.charCodeAt(at + 1));
}

function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

/** Signing keys by secret, day, region and service: derived once a day, not per request. */
const keyCache = new Map<string, PaddedKey>();

function signingKey(secret: string, day: string, region: string, service: string): PaddedKey {
  const id = `${secret}\n${day}\n${region}\n${service}`;
  let key = keyCache.get(id);
  if (!key) {
    const { createHmac } = crypto();
    const kDate = createHmac("sha256", "AWS4" + secret).update(day).digest();
    const kRegion = createHmac("sha256", kDate).update(region).digest();
    const kService = createHmac("sha256", kRegion).update(service).digest();
    key = padKey(createHmac("sha256", kService).update("aws4_request").digest());
    if (keyCache.size > 64) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

/** The hex SHA-256 of a body: one-shot for bytes, piece by piece for a spliced event. */
function payloadHash(body: Payload): string {
  if (!(body instanceof SplicedPayload)) return crypto().hash("sha256", body, "hex");
  const h = crypto().createHash("sha256");
  for (const piece of body.pieces()) h.update(piece);
  return h.digest("hex");
}

/** SHA-256 of no bytes: the payload hash of every empty body. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** `YYYYMMDDTHHMMSSZ` (computed once per second). */
export function amzDate(date: Date): string {
  return amzStamp(date.getTime());
}

/** {@linkcode amzDate} of epoch milliseconds. */
export const amzStamp: (ms: number) => string = perSecond((ms) =>
  new Date(ms).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "")
);

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

/** A header value as SigV4 canonicalises it: trimmed, inner runs of spaces as one. */
function canonicalValue(value: string): string {
  return /\s/.test(value) ? value.trim().replace(/\s+/g, " ") : value;
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
  let canonicalHeaders = "";
  for (const n of names) canonicalHeaders += `${n}:${canonicalValue(headers[n]!)}\n`;
  const signedHeaders = names.join(";");
  const keys = Object.keys(input.query);
  const query = keys.length === 0
    ? ""
    : keys.sort().map((k) => `${uriEncode(k, false)}=${uriEncode(input.query[k]!, false)}`).join("&");
  const { hash } = crypto();
  const bodyHash = input.body.length === 0 ? EMPTY_SHA256 : payloadHash(input.body);
  const canonical = `${input.method}\n${
    canonicalPath(input.path)
  }\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${bodyHash}`;
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${hash("sha256", canonical, "hex")}`;
  const signature = hmacHex(signingKey(creds.secretAccessKey, day, input.region, input.service), toSign);
  const out: Record<string, string> = {
    "x-amz-date": stamp,
    authorization:
      `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
  if (creds.sessionToken) out["x-amz-security-token"] = creds.sessionToken;
  return out;
}

/** What stays the same from one signature of a {@linkcode SigningTemplate} to the next. */
export type SignTemplateInput = Omit<SignInput, "body" | "date">;

/**
 * One kind of request signed again and again — the same method, host, path,
 * query, headers, region, service and credentials — where only the time and
 * the body change, as every Invoke call of a function is. The canonical
 * request is made once, around the two places that change; a signature then
 * costs the body's hash, the canonical request's hash and the HMAC. Signs
 * exactly as {@linkcode signRequest} does.
 */
export class SigningTemplate {
  readonly #before: string;
  readonly #between: string;
  readonly #after: string;
  readonly #region: string;
  readonly #service: string;
  readonly #creds: Credentials;
  readonly #credentialHead: string;
  readonly #signedHeaders: string;
  /** The signing key of the last day signed for. */
  #day = "";
  #key: PaddedKey | undefined;

  /** Prepares the signatures of `input` with `creds`. */
  constructor(input: SignTemplateInput, creds: Credentials) {
    const headers: Record<string, string> = { ...input.headers, host: input.host, "x-amz-date": "" };
    if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    let before = "";
    let between = "";
    for (const n of names) {
      if (n === "x-amz-date") {
        before += "x-amz-date:";
        between = "\n";
      } else if (between === "") before += `${n}:${canonicalValue(headers[n]!)}\n`;
      else between += `${n}:${canonicalValue(headers[n]!)}\n`;
    }
    const keys = Object.keys(input.query).sort();
    const query = keys.map((k) => `${uriEncode(k, false)}=${uriEncode(input.query[k]!, false)}`).join("&");
    this.#signedHeaders = names.join(";");
    this.#before = `${input.method}\n${canonicalPath(input.path)}\n${query}\n${before}`;
    this.#between = between;
    this.#after = `\n${this.#signedHeaders}\n`;
    this.#region = input.region;
    this.#service = input.service;
    this.#creds = creds;
    this.#credentialHead = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/`;
  }

  /** The headers to add (`x-amz-date`, `x-amz-security-token`, `authorization`) for `body` sent at `date`. */
  sign(body: Payload, date: Date): Record<string, string> {
    const stamp = amzDate(date);
    const out: Record<string, string> = {
      "x-amz-date": stamp,
      authorization: this.authorization(body, stamp),
    };
    if (this.#creds.sessionToken) out["x-amz-security-token"] = this.#creds.sessionToken;
    return out;
  }

  /** The `authorization` value for `body` at `stamp` ({@linkcode amzDate}). */
  authorization(body: Payload, stamp: string): string {
    const day = stamp.slice(0, 8);
    const bodyHash = body.length === 0 ? EMPTY_SHA256 : payloadHash(body);
    const canonical = this.#before + stamp + this.#between + this.#after + bodyHash;
    const scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${crypto().hash("sha256", canonical, "hex")}`;
    if (day !== this.#day) {
      this.#key = signingKey(this.#creds.secretAccessKey, day, this.#region, this.#service);
      this.#day = day;
    }
    return `${this.#credentialHead}${scope}, SignedHeaders=${this.#signedHeaders}, Signature=${
      hmacHex(this.#key!, toSign)
    }`;
  }

  /** The session token of temporary credentials, sent as `x-amz-security-token`. */
  get sessionToken(): string | undefined {
    return this.#creds.sessionToken || undefined;
  }
}
