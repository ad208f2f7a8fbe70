/**
 * The parity test's framework apps (Hono via `hono/aws-lambda`, Express via
 * `serverless-http`) as `runtime: deno` handler folders behind a
 * `functions:` rule answer byte for byte as the apps served directly.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { parseConfig } from "../../lib/config/parse.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { startLrp } from "../../lib/run/serve.ts";
import * as express from "../apps/express_app.ts";
import * as hono from "../apps/hono_app.ts";
import { rawHttp, type RawResponse } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const te = new TextEncoder();

const REQUESTS: { name: string; line: string; headers?: string[]; body?: Uint8Array }[] = [
  { name: "repeated and encoded query", line: "GET /query?x=1&x=2&y=%20z&e=%E2%82%AC&plus=a+b&flag" },
  { name: "percent-encoded path", line: "GET /path/a%2Fb/c%20d/%7Euser/caf%C3%A9" },
  {
    name: "JSON body",
    line: "POST /body",
    headers: ["Content-Type: application/json; charset=utf-8"],
    body: te.encode('{"a":[1,2,{"b":"ü"}]}'),
  },
  {
    name: "binary body",
    line: "PUT /body",
    headers: ["Content-Type: application/octet-stream"],
    body: new Uint8Array(300).map((_, i) => (i * 7) % 256),
  },
  { name: "several cookies each way", line: "GET /cookies", headers: ["Cookie: a=1; b=two; c=%20x"] },
  { name: "redirect", line: "GET /redirect" },
  { name: "204", line: "DELETE /items/42" },
  { name: "304", line: "GET /etag", headers: ['If-None-Match: "lrp-v1"'] },
  { name: "HEAD", line: "HEAD /head" },
  { name: "binary response", line: "GET /png", headers: ["Accept: image/png"] },
  { name: "custom status and headers", line: "GET /teapot" },
];

function comparable(res: RawResponse) {
  return {
    status: res.status,
    headers: res.headers.filter(([n]) => n !== "date").sort(([a, x], [b, y]) =>
      a < b ? -1 : a > b ? 1 : x < y ? -1 : 1
    ),
    body: Array.from(res.body),
  };
}

async function parity(folder: string, direct: { port: number; close(): Promise<void> }) {
  const config = parseConfig(
    `host: 127.0.0.1\nport: 0\nfunctions:\n  - hostname: app.test\n    runtime: deno\n    handler: index.handler\n    code: ${FIXTURES}${folder}\n    timeout: 60s\n`,
    { source: "test" },
  );
  const lrp = startLrp(config, silentLogger, "test");
  try {
    for (const r of REQUESTS) {
      const [method, target] = r.line.split(" ");
      const extra = [...(r.headers ?? [])];
      if (r.body) extra.push(`Content-Length: ${r.body.length}`);
      const head = (host: string) => [`${method} ${target} HTTP/1.1`, `Host: ${host}`, ...extra].join("\r\n");
      const viaDirect = await rawHttp(direct.port, head("app.test"), r.body);
      const viaLrp = await rawHttp(lrp.addr.port, head("app.test"), r.body);
      assert.deepEqual(comparable(viaLrp), comparable(viaDirect), r.name);
    }
  } finally {
    await lrp.shutdown();
    await direct.close();
  }
}

Deno.test("the Hono app as a runtime: deno handler folder answers byte for byte as served directly", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, hono.app.fetch);
  await parity("hono", { port: server.addr.port, close: () => server.shutdown() });
});

Deno.test("the Express app as a runtime: deno handler folder answers byte for byte as served directly", async () => {
  const direct = await new Promise<{ port: number; close(): Promise<void> }>((resolve) => {
    const server = express.app.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ port, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
  await parity("express", direct);
});
