/**
 * No function result can crash lrp: every byte value in a header name, a
 * header value and a cookie, sent by a fake RIE to a real lrp child over real
 * sockets, is either passed on (200) or refused as a `bad_result` (502) — and
 * the process keeps serving after each. Plus the header-block cap.
 */
import assert from "node:assert/strict";
import { fakeRie } from "../fakes/rie.ts";
import { startLrpChild, waitFor } from "../helpers/process.ts";
import { rawHttp } from "../helpers/socket.ts";
import { localRule, serveLrp } from "../helpers/in_process.ts";
import { parseConfig } from "../../lib/config/parse.ts";
import { LrpError } from "../../lib/errors.ts";
import { toResponse } from "../../lib/handle/handler.ts";
import type { InvokeResult } from "../../lib/invoke/types.ts";

/** RFC 9110 tchar: the bytes a header name (token) may hold. */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/;

/** What lrp must answer for byte `b` in a value or cookie: HTAB, SP, VCHAR and obs-text pass. */
function valueStatus(b: number): number {
  return b === 0x09 || (b >= 0x20 && b <= 0x7e) || b >= 0x80 ? 200 : 502;
}

Deno.test("every byte value in a result's header name, header value or cookie gets 200 or 502 and lrp keeps serving", async () => {
  // The path says what to put where: /{value|name|cookie}/{byte}.
  await using rie = fakeRie((event) => {
    const [, where, byte] = String(event.rawPath).split("/");
    const ch = String.fromCharCode(Number(byte));
    if (where === "value") return { statusCode: 200, headers: { "x-v": `a${ch}b` }, body: "ok" };
    if (where === "name") return { statusCode: 200, headers: { [`x${ch}n`]: "v" }, body: "ok" };
    return { statusCode: 200, cookies: [`a=${ch}b`], body: "ok" };
  });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/lrp.yaml`, `local:\n  - hostname: fn.test\n    endpoint: ${rie.url}\n`);
    await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", `${dir}/lrp.yaml`]);
    const port = Number(new URL(lrp.url).port);
    const wrong: string[] = [];
    for (const where of ["value", "name", "cookie"]) {
      for (let b = 0; b < 256; b++) {
        const expected = where === "name" ? (TCHAR.test(String.fromCharCode(b)) ? 200 : 502) : valueStatus(b);
        let status: number | string;
        try {
          status = (await rawHttp(port, `GET /${where}/${b} HTTP/1.1\r\nHost: fn.test`)).status;
        } catch (err) {
          status = `no answer (${err instanceof Error ? err.message : err})`;
        }
        if (status !== expected) wrong.push(`${where} 0x${b.toString(16)}: ${status}, want ${expected}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.equal((await rawHttp(port, "GET /ping HTTP/1.1\r\nHost: any.test")).status, 200);
    // 32 CTL/DEL bytes each in values and cookies, 256 - 77 non-tchar bytes in names. Access lines are
    // written in batches, so the last ones may still be on their way.
    const refusedLines = () =>
      lrp.lines.filter((l) => l.msg === "request" && l.error === "bad_result").length;
    await waitFor("243 bad_result access lines", () => refusedLines() >= 32 + 32 + 179 || undefined).catch(
      () => {},
    );
    assert.equal(refusedLines(), 32 + 32 + 179);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a result over max_result_headers or max_result_header_bytes is a 502 bad_result; at the cap it passes", async () => {
  await using rie = fakeRie((event) => {
    const [, count, size] = String(event.rawPath).split("/").map(Number);
    const headers: Record<string, string> = {};
    for (let i = 0; i < count! - 1; i++) headers[`x-h${i}`] = "v";
    return { statusCode: 200, headers, cookies: [`c=${"x".repeat(size!)}`], body: "ok" };
  });
  await using lrp = serveLrp(
    `max_result_headers: 5\nmax_result_header_bytes: 100\nlocal:\n${localRule("fn.test", rie.url)}`,
  );
  const get = async (path: string) =>
    (await rawHttp(lrp.port, `GET ${path} HTTP/1.1\r\nHost: fn.test`)).status;
  // Four x-h headers and one set-cookie: 5 lines, the cap.
  assert.equal(await get("/5/1"), 200);
  assert.equal(await get("/6/1"), 502);
  // Bytes as on the wire: "x-h0: v\r\n" … and "set-cookie: c=" + value + CRLF.
  const fixed = "x-h0: v\r\n".length * 3 + "set-cookie: c=\r\n".length;
  assert.equal(await get(`/4/${100 - fixed}`), 200);
  assert.equal(await get(`/4/${101 - fixed}`), 502);
  const refused = lrp.lines.filter((l) => l.msg === "request" && l.error === "bad_result");
  assert.deepEqual(refused.map((l) => (l.errorMessage as string).replace(/\d+/g, "N")), [
    "Cannot use the Lambda result: its N headers are more than the N allowed (max_result_headers)",
    "Cannot use the Lambda result: its header block of N bytes is over the N allowed (max_result_header_bytes)",
  ]);
});

Deno.test("the header block defaults are 100 lines and 60 KiB", () => {
  const config = parseConfig("local: []\n", { source: "t.yaml" });
  assert.equal(config.maxResultHeaders, 100);
  assert.equal(config.maxResultHeaderBytes, 60 * 1024);
});

Deno.test("toResponse() refuses a control character in the headers of 1.0, ALB, a buffered prelude and a streamed prelude", () => {
  const te = new TextEncoder();
  const bad = { statusCode: 200, headers: { "x-v": "a\u0007b" } };
  const prelude = (p: unknown) => te.encode(`${JSON.stringify(p)}\0\0\0\0\0\0\0\0body`);
  const cases: [string, () => Response][] = [
    ["1.0", () => toResponse({ body: te.encode(JSON.stringify(bad)) }, "GET", { payloadFormat: "1.0" })],
    [
      "1.0 multiValueHeaders",
      () =>
        toResponse(
          { body: te.encode(JSON.stringify({ statusCode: 200, multiValueHeaders: { "x-v": ["\u001f"] } })) },
          "GET",
          {
            payloadFormat: "1.0",
          },
        ),
    ],
    ["alb", () => toResponse({ body: te.encode(JSON.stringify(bad)) }, "GET", { payloadFormat: "alb" })],
    ["buffered prelude", () => toResponse({ body: prelude(bad) })],
    [
      "streamed prelude",
      () =>
        toResponse({
          body: new Blob(["body"]).stream(),
          prelude: { statusCode: 200, cookies: ["a=\u0000"] },
        } as InvokeResult),
    ],
  ];
  for (const [name, make] of cases) {
    assert.throws(make, (err: unknown) => err instanceof LrpError && err.code === "bad_result", name);
  }
});
