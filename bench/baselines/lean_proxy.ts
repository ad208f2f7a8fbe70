/**
 * BENCH BASELINE — NOT PART OF LRP. A lean Deno proxy doing lrp's core job
 * with nothing else: it shows the per-request cost a careful Deno program
 * pays for it, so the bench can say how much of lrp's cost is its own.
 *
 * Per request: one `Deno.serve` handler builds the full API Gateway /
 * Function URL payload 2.0 event (rawPath, rawQueryString, cookies, headers
 * lower-cased and joined, hop-by-hop dropped, `x-forwarded-*` and
 * `x-amzn-trace-id` added, queryStringParameters, a complete requestContext,
 * body as text or base64) as ONE JSON string (a base64 body kept beside it
 * and encoded straight into the write buffer); POSTs it over a pool of
 * keep-alive `Deno.connect` connections, each with one reusable read buffer,
 * the request head and body `encodeInto` one buffer and sent in one write;
 * parses the response head as bytes (Content-Length bodies only); turns the
 * 2.0 result into a `Response` from a string body and a plain header object.
 * Ids come from a random prefix + a counter; the CLF time and the trace-id
 * head are computed once a second.
 *
 * Upstream: the RIE route (`/2015-03-31/functions/function/invocations`), or
 * with `--sign` the Invoke API route (`/2015-03-31/functions/{name}/invocations`)
 * signed with SigV4 from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
 * AWS_SESSION_TOKEN: one-shot SHA-256s through `node:crypto` `hash`, the HMAC
 * of the string to sign from the day's signing-key pads, cached.
 *
 * Left out on purpose (lrp does them): routing, admission and size limits,
 * timeouts, queues, logs, metrics, chunked upstream answers, header checks.
 *
 * Run: `deno run -A bench/baselines/lean_proxy.ts --port 0 --upstream http://127.0.0.1:PORT
 * [--sign] [--fresh [--serial]] [--function NAME] [--region REGION]`; the first line on stdout is its URL.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHmac, hash } from "node:crypto";

const arg = (flag: string, fallback: string): string => {
  const i = Deno.args.indexOf(flag);
  return i === -1 ? fallback : Deno.args[i + 1] ?? fallback;
};
const upstream = new URL(arg("--upstream", "http://127.0.0.1:9000"));
const SIGN = Deno.args.includes("--sign");
/**
 * `--fresh`: a new connection per call, none kept idle — the guarantee lrp's local rule gives (a late or
 * duplicate answer on a reused connection could be taken for the next request's); a spare connection is
 * opened in the background while a call runs, so the next call does not wait for a handshake.
 */
const FRESH = Deno.args.includes("--fresh");
/**
 * `--serial` (with `--fresh`): one call at a time, the others waiting their turn in a promise chain — the
 * other half of lrp's local-rule guarantee (an RIE runs one invocation at a time).
 */
const SERIAL = Deno.args.includes("--serial");
let turn: Promise<unknown> = Promise.resolve();
const FUNCTION = arg("--function", "bench-fn");
const REGION = arg("--region", Deno.env.get("AWS_REGION") ?? "us-east-1");
const UP_HOST = upstream.hostname;
const UP_PORT = Number(upstream.port || 80);
const HOST_HEADER = upstream.host;
const PATH = SIGN
  ? `/2015-03-31/functions/${FUNCTION}/invocations`
  : "/2015-03-31/functions/function/invocations";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad2 = (n: number) => (n < 10 ? "0" : "") + n;
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

// ---- per-second caches and ids ---------------------------------------------------------------
const ID_PREFIX = crypto.randomUUID().slice(0, 24); // "xxxxxxxx-xxxx-xxxx-xxxx-"
const TRACE_RANDOM = hex(crypto.getRandomValues(new Uint8Array(6)));
let counter = 0;
let second = -1;
let clfTime = "";
let traceHead = "";
let amzDate = "";
let day = "";

function tick(now: number): void {
  const s = Math.floor(now / 1000);
  if (s === second) return;
  second = s;
  const d = new Date(s * 1000);
  clfTime = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${
    pad2(d.getUTCHours())
  }:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
  traceHead = `Root=1-${s.toString(16).padStart(8, "0")}-${TRACE_RANDOM}`;
  amzDate = d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  if (SIGN && amzDate.slice(0, 8) !== day) rekey(amzDate.slice(0, 8));
}

// ---- SigV4 -----------------------------------------------------------------------------------
const ACCESS_KEY = Deno.env.get("AWS_ACCESS_KEY_ID") ?? "";
const SECRET = Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "";
const TOKEN = Deno.env.get("AWS_SESSION_TOKEN") ?? "";
const SIGNED = TOKEN ? "content-type;host;x-amz-date;x-amz-security-token" : "content-type;host;x-amz-date";
const CANON_HEAD = `POST\n${PATH}\n\ncontent-type:application/json\nhost:${HOST_HEADER}\nx-amz-date:`;
const CANON_TAIL = `\n${TOKEN ? `x-amz-security-token:${TOKEN}\n` : ""}\n${SIGNED}\n`;
let scope = "";
/** Scratch for HMAC: the inner pad (64 bytes) then the message; the outer pad then the inner digest. */
const inner = new Uint8Array(64 + 1024);
const outer = new Uint8Array(64 + 32);

function rekey(today: string): void {
  day = today;
  scope = `${day}/${REGION}/lambda/aws4_request`;
  let k: Uint8Array = createHmac("sha256", "AWS4" + SECRET).update(day).digest();
  for (const part of [REGION, "lambda", "aws4_request"]) k = createHmac("sha256", k).update(part).digest();
  for (let i = 0; i < 64; i++) {
    const b = i < k.length ? k[i]! : 0;
    inner[i] = b ^ 0x36;
    outer[i] = b ^ 0x5c;
  }
}

function authorization(payloadHash: string): string {
  const canonical = CANON_HEAD + amzDate + CANON_TAIL + payloadHash;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash("sha256", canonical, "hex")}`;
  const n = encoder.encodeInto(toSign, inner.subarray(64)).written;
  // Hex out and back: Deno's `hash(…, "buffer")` costs several times a hex digest.
  const digest = hash("sha256", inner.subarray(0, 64 + n), "hex") as string;
  for (let i = 0; i < 32; i++) outer[64 + i] = parseInt(digest.slice(2 * i, 2 * i + 2), 16);
  const signature = hash("sha256", outer, "hex");
  return `AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/${scope}, SignedHeaders=${SIGNED}, Signature=${signature}`;
}

// ---- the event -------------------------------------------------------------------------------
function isText(type: string | undefined): boolean {
  if (type === undefined) return false;
  const semi = type.indexOf(";");
  const media = (semi === -1 ? type : type.slice(0, semi)).trim().toLowerCase();
  return media.startsWith("text/") || media === "application/json" || media === "application/javascript" ||
    media === "application/xml";
}

function decodeComponent(s: string): string {
  if (s.indexOf("%") === -1 && s.indexOf("+") === -1) return s;
  const spaced = s.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

function queryJson(query: string): string {
  const params = new Map<string, string>();
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = decodeComponent(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? "" : decodeComponent(part.slice(eq + 1));
    const prev = params.get(key);
    params.set(key, prev === undefined ? value : `${prev},${value}`);
  }
  if (params.size === 0) return "";
  let out = "";
  for (const [k, v] of params) out += `${out === "" ? "" : ","}${JSON.stringify(k)}:${JSON.stringify(v)}`;
  return `,"queryStringParameters":{${out}}`;
}

/**
 * The event as one JSON string, keys in the order AWS writes them. A base64
 * body is returned beside it rather than inside it (`[before, base64, after]`,
 * else `[json, "", ""]`), so a large body is encoded into the write buffer
 * without first being copied into one big event string.
 */
function eventJson(
  req: Request,
  body: Uint8Array | null,
  sourceIp: string,
  now: number,
  id: string,
  trace: string,
): [string, string, string] {
  const url = req.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", pathStart);
  const path = q === -1 ? url.slice(pathStart) : url.slice(pathStart, q);
  const query = q === -1 ? "" : url.slice(q + 1);
  let headers = "";
  let cookie = "";
  let xff = "";
  let host = "";
  let userAgent = "";
  let contentType: string | undefined;
  let hasTrace = false;
  for (const [name, value] of req.headers) {
    if (name === "cookie") cookie = value;
    else if (name === "x-forwarded-for") xff = value;
    else if (HOP_BY_HOP.has(name)) continue;
    else {
      if (name === "host") host = value;
      else if (name === "user-agent") userAgent = value;
      else if (name === "content-type") contentType = value;
      else if (name === "x-amzn-trace-id") hasTrace = true;
      headers += `${JSON.stringify(name)}:${JSON.stringify(value)},`;
    }
  }
  headers += `"x-forwarded-for":${JSON.stringify(xff ? `${xff}, ${sourceIp}` : sourceIp)},` +
    `"x-forwarded-proto":"http","x-forwarded-port":"${PORT_TEXT}"`;
  if (!hasTrace) headers += `,"x-amzn-trace-id":"${trace}"`;
  let cookies = "";
  if (cookie !== "") {
    const list = cookie.split(";").map((c) => c.trim()).filter((c) => c !== "");
    if (list.length > 0) cookies = `,"cookies":${JSON.stringify(list)}`;
  }
  const colon = host.startsWith("[") ? host.indexOf("]") + 1 : host.indexOf(":");
  const domainName = (colon <= 0 ? host : host.slice(0, colon)).toLowerCase();
  const dot = domainName.startsWith("[") ? -1 : domainName.indexOf(".");
  const domainPrefix = JSON.stringify(dot === -1 ? domainName : domainName.slice(0, dot));
  let bodyPart = `"isBase64Encoded":false}`;
  let base64 = "";
  if (body !== null && body.length > 0) {
    let text: string | undefined;
    if (isText(contentType)) {
      try {
        text = fatalUtf8.decode(body);
      } catch { /* not UTF-8: base64 */ }
    }
    if (text !== undefined) bodyPart = `"body":${JSON.stringify(text)},"isBase64Encoded":false}`;
    else {
      base64 = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64");
      bodyPart = `"body":"`;
    }
  }
  const jpath = JSON.stringify(path);
  const json =
    `{"version":"2.0","routeKey":"$default","rawPath":${jpath},"rawQueryString":${JSON.stringify(query)}` +
    `${cookies},"headers":{${headers}}${queryJson(query)},"requestContext":{"accountId":"anonymous",` +
    `"apiId":${domainPrefix},"domainName":${JSON.stringify(domainName)},"domainPrefix":${domainPrefix},` +
    `"http":{"method":"${req.method}","path":${jpath},"protocol":"HTTP/1.1","sourceIp":"${sourceIp}",` +
    `"userAgent":${
      JSON.stringify(userAgent)
    }},"requestId":"${id}","routeKey":"$default","stage":"$default",` +
    `"time":"${clfTime}","timeEpoch":${now}},${bodyPart}`;
  return base64 === "" ? [json, "", ""] : [json, base64, `","isBase64Encoded":true}`];
}

// ---- the upstream pool -----------------------------------------------------------------------
const HEAD_ROOM = 2048;
const KEEP_WRITE_BUFFER = 64 * 1024;

/** One keep-alive upstream connection with its one read buffer and its write buffer. */
class Upstream {
  readonly read = new Uint8Array(16 * 1024);
  write = new Uint8Array(HEAD_ROOM + 4096);
  constructor(readonly conn: Deno.TcpConn) {}
}
const idle: Upstream[] = [];

/** The request head and body in one buffer: the body is encoded first so its length is known. */
function frame(up: Upstream, parts: [string, string, string], trace: string): Uint8Array {
  const chars = parts[0].length + parts[1].length + parts[2].length;
  let buf = up.write;
  if (buf.length < HEAD_ROOM + chars) buf = new Uint8Array(HEAD_ROOM + chars);
  let end = encodeParts(parts, buf);
  if (end < 0) {
    // Not all ASCII: room for the worst case (3 bytes per UTF-16 unit).
    buf = new Uint8Array(HEAD_ROOM + chars * 3);
    end = encodeParts(parts, buf);
  }
  if (buf.length <= KEEP_WRITE_BUFFER) up.write = buf;
  const body = buf.subarray(HEAD_ROOM, end);
  let head = `POST ${PATH} HTTP/1.1\r\nHost: ${HOST_HEADER}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nX-Amzn-Trace-Id: ${trace}\r\n`;
  if (SIGN) {
    // Deno hashes a short string faster than the same bytes; large bodies go as bytes.
    const payloadHash = hash("sha256", parts[1] === "" && chars < 65536 ? parts[0] : body, "hex") as string;
    head += `X-Amz-Date: ${amzDate}\r\nAuthorization: ${authorization(payloadHash)}\r\n`;
    if (TOKEN) head += `X-Amz-Security-Token: ${TOKEN}\r\n`;
  }
  head += "\r\n";
  const h = encoder.encodeInto(head, buf.subarray(0, HEAD_ROOM)).written;
  if (h === HEAD_ROOM) throw new Error("Cannot frame the request: head too large");
  buf.copyWithin(HEAD_ROOM - h, 0, h);
  return buf.subarray(HEAD_ROOM - h, end);
}

/** Encodes the parts one after another from `HEAD_ROOM`; the end offset, or -1 when `buf` is too small. */
function encodeParts(parts: [string, string, string], buf: Uint8Array): number {
  let at = HEAD_ROOM;
  for (const part of parts) {
    const r = encoder.encodeInto(part, buf.subarray(at));
    if (r.read < part.length) return -1;
    at += r.written;
  }
  return at;
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Case-insensitive match of an ASCII lower-case `name` at `buf[at]`, followed by `:`. */
function headerIs(buf: Uint8Array, at: number, end: number, name: string): boolean {
  if (at + name.length >= end || buf[at + name.length] !== 58) return false;
  for (let i = 0; i < name.length; i++) if ((buf[at + i]! | 0x20) !== name.charCodeAt(i)) return false;
  return true;
}

function headerNumber(buf: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) n = n * 10 + c - 48;
  }
  return n;
}

/** Whether a header value (after optional spaces) starts with `c`/`C`: `close` among Connection's values. */
function valueStartsWithC(buf: Uint8Array, from: number, to: number): boolean {
  let i = from;
  while (i < to && buf[i] === 32) i++;
  return i < to && (buf[i]! | 0x20) === 99;
}

interface Answer {
  status: number;
  text: string;
  functionError: boolean;
  close: boolean;
}

/** Reads one Content-Length response; the head is parsed as bytes in the connection's buffer. */
async function readAnswer(up: Upstream): Promise<Answer> {
  const buf = up.read;
  let end = 0;
  let headEnd = -1;
  while (headEnd === -1) {
    if (end === buf.length) throw new Error("Cannot read upstream answer: head too large");
    const n = await up.conn.read(buf.subarray(end));
    if (n === null) throw new Error("Cannot read upstream answer: connection closed");
    for (let i = Math.max(3, end - 3); i < end + n; i++) {
      if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
        headEnd = i + 1;
        break;
      }
    }
    end += n;
  }
  const status = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
  let length = -1;
  let functionError = false;
  let close = false;
  for (let line = buf.indexOf(10) + 1; line < headEnd - 2;) {
    const eol = buf.indexOf(10, line);
    if (headerIs(buf, line, eol, "content-length")) length = headerNumber(buf, line + 15, eol);
    else if (headerIs(buf, line, eol, "x-amz-function-error")) functionError = true;
    else if (headerIs(buf, line, eol, "connection")) close = valueStartsWithC(buf, line + 11, eol); // "close"
    else if (headerIs(buf, line, eol, "transfer-encoding")) throw new Error("Cannot read chunked answers");
    line = eol + 1;
  }
  if (length < 0) throw new Error("Cannot read upstream answer: no Content-Length");
  let body: Uint8Array;
  if (headEnd + length <= buf.length) {
    while (end < headEnd + length) {
      const n = await up.conn.read(buf.subarray(end));
      if (n === null) throw new Error("Cannot read upstream answer: body cut short");
      end += n;
    }
    body = buf.subarray(headEnd, headEnd + length);
  } else {
    body = new Uint8Array(length);
    body.set(buf.subarray(headEnd, end));
    for (let got = end - headEnd; got < length;) {
      const n = await up.conn.read(body.subarray(got));
      if (n === null) throw new Error("Cannot read upstream answer: body cut short");
      got += n;
    }
  }
  return { status, text: decoder.decode(body), functionError, close };
}

let spare: Promise<Deno.TcpConn> | undefined;
const connect = () => Deno.connect({ hostname: UP_HOST, port: UP_PORT }).then((c) => (c.setNoDelay(true), c));

/** `--fresh`: one call on a connection of its own (the spare opened during the last call), then closed. */
async function invokeFresh(parts: [string, string, string], trace: string): Promise<Answer> {
  const next = spare ?? connect();
  spare = connect();
  spare.catch(() => spare = undefined);
  const up = new Upstream(await next);
  try {
    await writeAll(up.conn, frame(up, parts, trace));
    return await readAnswer(up);
  } finally {
    up.conn.close();
  }
}

async function invoke(parts: [string, string, string], trace: string): Promise<Answer> {
  if (FRESH && SERIAL) {
    const call = turn.then(() => invokeFresh(parts, trace));
    turn = call.catch(() => {});
    return call;
  }
  if (FRESH) return invokeFresh(parts, trace);
  for (let attempt = 0;; attempt++) {
    const reused = idle.length > 0;
    const up = idle.pop() ?? new Upstream(await Deno.connect({ hostname: UP_HOST, port: UP_PORT }));
    try {
      await writeAll(up.conn, frame(up, parts, trace));
      const answer = await readAnswer(up);
      if (answer.close) up.conn.close();
      else idle.push(up);
      return answer;
    } catch (err) {
      up.conn.close();
      // A pooled connection the upstream closed while idle: once more on a fresh one.
      if (!reused || attempt > 0) throw err;
    }
  }
}

// ---- the result ------------------------------------------------------------------------------
const ERROR_HEADERS = { "content-type": "text/plain" };

function toResponse(answer: Answer, method: string): Response {
  if (answer.status !== 200 || answer.functionError) {
    return new Response("Bad Gateway\n", { status: 502, headers: ERROR_HEADERS });
  }
  const result = JSON.parse(answer.text);
  if (result === null || typeof result !== "object" || Array.isArray(result) || !("statusCode" in result)) {
    return new Response(answer.text, { headers: { "content-type": "application/json" } });
  }
  const headers: Record<string, string> = {};
  for (const k in result.headers) headers[k.toLowerCase()] = String(result.headers[k]);
  const init: ResponseInit = { status: result.statusCode, headers };
  if (Array.isArray(result.cookies) && result.cookies.length > 0) {
    const pairs: [string, string][] = Object.entries(headers);
    for (const c of result.cookies) pairs.push(["set-cookie", String(c)]);
    init.headers = pairs;
  }
  const noBody = method === "HEAD" || result.statusCode === 204 || result.statusCode === 304;
  if (typeof result.body !== "string" || noBody) return new Response(null, init);
  return new Response(
    result.isBase64Encoded === true ? Buffer.from(result.body, "base64") : result.body,
    init,
  );
}

// ---- the server ------------------------------------------------------------------------------
const server = Deno.serve(
  { hostname: "127.0.0.1", port: Number(arg("--port", "0")), onListen() {} },
  async (req, info) => {
    const now = Date.now();
    tick(now);
    const n = (counter++).toString(16).padStart(12, "0");
    const body = req.body === null ? null : new Uint8Array(await req.arrayBuffer());
    const trace = traceHead + n;
    const parts = eventJson(req, body, info.remoteAddr.hostname, now, ID_PREFIX + n, trace);
    try {
      return toResponse(await invoke(parts, trace), req.method);
    } catch {
      return new Response("Bad Gateway\n", { status: 502, headers: ERROR_HEADERS });
    }
  },
);
const PORT_TEXT = String(server.addr.port);
console.log(`http://127.0.0.1:${PORT_TEXT}`);
