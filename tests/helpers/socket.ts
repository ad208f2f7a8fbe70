/**
 * The one raw-socket HTTP/1.1 client of the tests: requests with any Host,
 * target or byte sequence (fetch cannot send those), answers parsed without
 * normalisation, and connections a test can hold open.
 *
 * @module
 */

import { concatBytes } from "../../lib/bytes.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/** A parsed raw HTTP response. */
export interface RawResponse {
  status: number;
  /** Header lines in order, names lower-cased. */
  headers: [string, string][];
  body: Uint8Array;
}

/**
 * Sends raw request bytes on a fresh connection with `Connection: close`
 * semantics and reads until the server closes. `head` is the request line and
 * headers without the final blank line.
 */
export async function rawHttp(
  port: number,
  head: string,
  body: Uint8Array = new Uint8Array(),
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = new Uint8Array([...te.encode(`${head}\r\nConnection: close\r\n\r\n`), ...body]);
    await conn.write(bytes);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return parseRawResponse(concatBytes(chunks));
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** Parses a complete HTTP/1.1 response (Content-Length or chunked body). */
export function parseRawResponse(bytes: Uint8Array): RawResponse {
  let end = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      end = i;
      break;
    }
  }
  if (end === -1) throw new Error(`Cannot parse response: no header end in ${bytes.length} bytes`);
  const lines = td.decode(bytes.subarray(0, end)).split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headers = lines.slice(1).map((l): [string, string] => {
    const c = l.indexOf(":");
    return [l.slice(0, c).toLowerCase(), l.slice(c + 1).trim()];
  });
  let body = bytes.subarray(end + 4);
  if (headers.some(([n, v]) => n === "transfer-encoding" && v === "chunked")) {
    const parts: Uint8Array[] = [];
    let i = 0;
    for (;;) {
      let j = i;
      while (!(body[j] === 13 && body[j + 1] === 10)) j++;
      const size = parseInt(td.decode(body.subarray(i, j)), 16);
      if (!size) break;
      parts.push(body.subarray(j + 2, j + 2 + size));
      i = j + 2 + size + 2;
    }
    body = concatBytes(parts);
  }
  return { status, headers, body };
}

/** A response read with {@linkcode request}. */
export interface SimpleResponse extends RawResponse {
  text: string;
  /** The first value of a header. */
  header(name: string): string | undefined;
  /** Every `set-cookie` value. */
  cookies: string[];
}

/**
 * Sends one HTTP/1.1 request with an explicit `Host` (which `fetch` will not
 * set) over a fresh connection.
 */
export async function request(
  port: number,
  host: string,
  target: string,
  init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<SimpleResponse> {
  const body = typeof init.body === "string" ? te.encode(init.body) : init.body;
  const lines = [`${init.method ?? (body ? "POST" : "GET")} ${target} HTTP/1.1`, `Host: ${host}`];
  for (const [k, v] of Object.entries(init.headers ?? {})) lines.push(`${k}: ${v}`);
  if (body) lines.push(`Content-Length: ${body.length}`);
  const res = await rawHttp(port, lines.join("\r\n"), body);
  return {
    ...res,
    text: td.decode(res.body),
    header: (name) => res.headers.find(([n]) => n === name)?.[1],
    cookies: res.headers.filter(([n]) => n === "set-cookie").map(([, v]) => v),
  };
}

/** Opens a raw connection and sends `head` (plus the blank line) and `body`; the caller reads or closes. */
export async function openRequest(port: number, head: string, body = ""): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`${head}\r\n\r\n${body}`));
  return conn;
}

/** Reads from `conn` until the peer closes; returns the text. */
export async function readAll(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
  try {
    conn.close();
  } catch { /* closed */ }
  return text;
}

/** Reads one response with a `Content-Length` body from `conn` (without waiting for the peer to close). */
export async function readResponse(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(65536);
  let text = "";
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text;
    }
    const n = await conn.read(buf);
    if (n === null) return text;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
  }
}
