/**
 * The HTTP/1.1 server side of the in-process RIE (`rie_emulator.ts`): reading
 * a request with lrp's one HTTP/1.1 reader, and writing answers the way the
 * RIE's Go server does (headers in sorted order, only `Content-Length`,
 * `Content-Type` — sniffed as Go sniffs it — and `Date`). Enough for fetch,
 * curl and lrp's own client.
 *
 * @module
 */

import { framingOf, type Http1Reader, Http1ReadError } from "../invoke/http1_reader.ts";

/** A request the server cannot parse: answered 400 and the connection closed, as Go does. */
export class BadRequest extends Error {}

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  headers: Headers;
  /** The connection ends after this exchange. */
  close: boolean;
}

const MAX_HEAD_BYTES = 1 << 20;
const REQUEST_LINE = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/;

/** Reads a request head; null at a clean end of stream. Anything unparsable is a {@linkcode BadRequest}. */
export async function readRequestHead(reader: Http1Reader): Promise<RequestHead | null> {
  reader.reset();
  let head;
  try {
    head = await reader.readHead(MAX_HEAD_BYTES);
  } catch (err) {
    if (err instanceof Http1ReadError) throw new BadRequest(`Cannot read request: ${err.message}`);
    throw err;
  }
  if (head === null) return null;
  const match = REQUEST_LINE.exec(head.startLine);
  if (!match) throw new BadRequest(`Cannot parse request line: ${head.startLine}`);
  const headers = new Headers();
  for (const [name, value] of head.headers) {
    try {
      headers.append(name, value);
    } catch {
      throw new BadRequest(`Cannot parse header line: ${name}`);
    }
  }
  const connection = headers.get("connection") ?? "";
  const close = match[3] === "0" ? !/keep-alive/i.test(connection) : /close/i.test(connection);
  return { method: match[1] ?? "", target: match[2] ?? "", headers, close };
}

/** Reads the whole body (Content-Length or chunked), keeping only its first `keep` bytes. */
export async function readRequestBody(
  reader: Http1Reader,
  headers: Headers,
  keep: number,
): Promise<Uint8Array> {
  const pairs: [string, string][] = [];
  const te = headers.get("transfer-encoding");
  const length = headers.get("content-length");
  if (te !== null) pairs.push(["transfer-encoding", te]);
  if (length !== null) pairs.push(["content-length", length]);
  return await reader.readBody(framingOf(pairs), keep, { truncate: true });
}

/** The path of a request target, origin- or absolute-form, without its query. */
export function pathOf(target: string): string {
  const path = target.startsWith("/") ? target : URL.canParse(target) ? new URL(target).pathname : target;
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  500: "Internal Server Error",
  502: "Bad Gateway",
};

/** A Go-like response: headers in Go's sorted order, only Content-Length, Content-Type and Date. */
export function encodeResponse(
  status: number,
  reply: { body: Uint8Array; headers?: Record<string, string> },
  options: { close: boolean; head?: boolean },
): Uint8Array {
  const headers: Record<string, string> = {
    "Content-Length": String(reply.body.length),
    Date: new Date().toUTCString(),
    ...reply.headers,
  };
  const sniffed = sniffContentType(reply.body);
  if (headers["Content-Type"] === undefined && sniffed !== undefined) headers["Content-Type"] = sniffed;
  if (options.close) headers["Connection"] = "close";
  const lines = [`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Unknown"}`];
  for (const name of Object.keys(headers).sort()) lines.push(`${name}: ${headers[name]}`);
  const head = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  const body = options.head ? new Uint8Array() : reply.body;
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

/** Writes all of `bytes`. */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/**
 * The `Content-Type` Go's `http.DetectContentType` gives a body, for the cases
 * a Lambda payload meets: HTML (after leading whitespace) → `text/html`, `<?xml`
 * → `text/xml`, any binary control byte in the first 512 bytes (e.g. the NULs of
 * a streaming prelude) → `application/octet-stream`, otherwise text (JSON
 * included) → `text/plain; charset=utf-8`. Go sets no type for an empty body:
 * `undefined`. Other signatures Go knows (images, archives) are not detected.
 */
export function sniffContentType(body: Uint8Array): string | undefined {
  if (body.length === 0) return undefined;
  const data = body.subarray(0, 512);
  let start = 0;
  while (start < data.length && WHITESPACE.has(data[start] ?? 0)) start++;
  const lead = String.fromCharCode(...data.subarray(start, start + 16)).toUpperCase();
  for (const tag of HTML_TAGS) {
    const after = lead.charCodeAt(tag.length);
    if (lead.startsWith(tag) && (after === 0x20 || after === 0x3e)) return "text/html; charset=utf-8";
  }
  if (lead.startsWith("<?XML")) return "text/xml; charset=utf-8";
  for (const b of data) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) {
      return "application/octet-stream";
    }
  }
  return "text/plain; charset=utf-8";
}

const WHITESPACE = new Set([0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const HTML_TAGS = [
  "<!DOCTYPE HTML",
  "<HTML",
  "<HEAD",
  "<SCRIPT",
  "<IFRAME",
  "<H1",
  "<DIV",
  "<FONT",
  "<TABLE",
  "<A",
  "<STYLE",
  "<TITLE",
  "<B",
  "<BODY",
  "<BR",
  "<P",
  "<!--",
];
