/**
 * Every byte value and every percent-escape in a routed path, through a real
 * lrp process in front of an echoing fake RIE: lrp never answers 5xx or logs
 * a bug, an HTTP API decodes as docs/routes.md says, a REST API keeps the
 * path as sent; and an empty segment never fills a greedy variable.
 */
import assert from "node:assert/strict";
import { startLrpChild, startRieProcess, tempConfig } from "../helpers/process.ts";
import { parseRawResponse } from "../helpers/socket.ts";
import { concatBytes } from "../../lib/bytes.ts";

type Json = Record<string, unknown>;
const te = new TextEncoder();
const td = new TextDecoder();

async function withRoutedLrp(
  body: (
    get: (host: string, target: Uint8Array | string) => Promise<{
      status: number;
      event: Json | undefined;
    }>,
  ) => Promise<void>,
) {
  await using rie = await startRieProcess(["--mode", "echo"]);
  const path = await tempConfig(`host: 127.0.0.1
port: 0
local:
  - hostname: h.test
    endpoint: ${rie.url}
    routes: ["GET /a/{x}/z", "ANY /g/{proxy+}", "$default"]
  - hostname: r.test
    endpoint: ${rie.url}
    api: rest
    routes: ["GET /a/{x}/z", "ANY /g/{proxy+}"]
`);
  await using lrp = await startLrpChild([path]);
  await body(async (host, target) => {
    const t = typeof target === "string" ? te.encode(target) : target;
    // The head goes out byte for byte: bytes above 0x7f are sent raw, not as UTF-8 text.
    const res = await rawBytes(
      lrp.port,
      new Uint8Array([...te.encode("GET "), ...t, ...te.encode(` HTTP/1.1\r\nHost: ${host}`)]),
    );
    return { status: res.status, event: res.status === 200 ? JSON.parse(td.decode(res.body)) : undefined };
  });
  const bugs = lrp.lines.filter((l) => l.level === "error" || String(l.msg).startsWith("bug"));
  assert.deepEqual(bugs, []);
}

async function rawBytes(port: number, head: Uint8Array) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new Uint8Array([...head, ...te.encode("\r\nConnection: close\r\n\r\n")]));
  const chunks: Uint8Array[] = [];
  for (;;) {
    const buf = new Uint8Array(65536);
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.subarray(0, n));
  }
  conn.close();
  return parseRawResponse(concatBytes(chunks));
}

const hex = (b: number) => b.toString(16).padStart(2, "0").toUpperCase();

Deno.test("every %XX in a path variable: an HTTP API decodes it (400 when it cannot), a REST API keeps it", async () => {
  await withRoutedLrp(async (get) => {
    for (let b = 0; b < 256; b++) {
      const target = `/a/x%${hex(b)}y/z`;
      const http = await get("h.test", target);
      const c = String.fromCharCode(b);
      if (b >= 0x80 || c === "%") {
        // A lone byte above 0x7f is no UTF-8; `%25` leaves `%y`, which the second decoding refuses.
        assert.equal(http.status, 400, target);
      } else if (c === "/" || c === "?") {
        assert.equal(http.status, 200, target);
        assert.equal(http.event!.routeKey, "$default", target);
        assert.equal(http.event!.rawPath, c === "/" ? "/a/x/y/z" : "/a/x", target);
      } else {
        assert.equal(http.status, 200, target);
        assert.equal(http.event!.routeKey, "GET /a/{x}/z", target);
        assert.deepEqual(http.event!.pathParameters, { x: `x${c}y` }, target);
        assert.equal(http.event!.rawPath, `/a/x${c}y/z`, target);
      }
      const rest = await get("r.test", `/Prod${target}`);
      assert.equal(rest.status, 200, target);
      assert.equal(rest.event!.resource, "/a/{x}/z", target);
      assert.deepEqual(rest.event!.pathParameters, { x: `x%${hex(b)}y` }, target);
      assert.equal(rest.event!.path, target, target);
    }
  });
});

Deno.test("every raw byte in a path: a visible ASCII byte is routed, any other is a 400, never a 5xx", async () => {
  await withRoutedLrp(async (get) => {
    for (let b = 0; b < 256; b++) {
      const target = new Uint8Array([...te.encode("/a/x"), b, ...te.encode("y/z")]);
      for (const host of ["h.test", "r.test"]) {
        const t = host === "r.test" ? new Uint8Array([...te.encode("/Prod"), ...target]) : target;
        const { status, event } = await get(host, t);
        if (b <= 0x20 || b >= 0x7f) assert.equal(status, 400, `${host} byte ${b}`);
        else if (b === 0x25) assert.equal(status, host === "h.test" ? 400 : 200, `${host} byte ${b}`);
        else if (b === 0x23 || b === 0x2f || b === 0x3f) {
          // `#` and `?` end the path, `/` adds a segment: no route but the default (HTTP) or none (REST, 403).
          assert.equal(status, host === "h.test" ? 200 : 403, `${host} byte ${b}`);
          if (event) assert.equal(event.routeKey, "$default");
        } else {
          assert.equal(status, 200, `${host} byte ${b}`);
          const x = `x${String.fromCharCode(b)}y`;
          assert.deepEqual(event!.pathParameters, { x }, `${host} byte ${b}`);
        }
      }
    }
  });
});

Deno.test("an empty segment never fills a greedy variable: /g//, /g/%2F and /g//x go to $default", async () => {
  await withRoutedLrp(async (get) => {
    for (const target of ["/g//", "/g///", "/g/%2F", "/g/%252F", "/g//x"]) {
      const { status, event } = await get("h.test", target);
      assert.equal(status, 200, target);
      assert.equal(event!.routeKey, "$default", target);
      assert.equal(event!.pathParameters, undefined, target);
    }
    const inner = await get("h.test", "/g/x//y/");
    assert.deepEqual(inner.event!.pathParameters, { proxy: "x//y" });
    assert.equal(inner.event!.rawPath, "/g/x//y/");
    for (const target of ["/Prod/g//", "/Prod/g//x"]) {
      assert.equal((await get("r.test", target)).status, 403, target);
    }
    assert.deepEqual((await get("r.test", "/Prod/g/x//y")).event!.pathParameters, { proxy: "x//y" });
  });
});
