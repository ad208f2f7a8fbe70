/**
 * The promise of lrp: a Lambda handler written with a framework adapter,
 * behind lrp and an RIE, answers a browser-like set of requests byte for byte
 * as the same app served directly.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { parseConfig } from "../../lib/config/parse.ts";
import { LocalInvoker } from "../../lib/invoke/local.ts";
import { silentLogger } from "../../lib/obs/log.ts";
import { type LambdaHandler, startRie } from "../../lib/run/rie_emulator.ts";
import { createRouter } from "../../lib/route/router.ts";
import { createHandler } from "../../lib/run/handler.ts";
import * as express from "../apps/express_app.ts";
import * as hono from "../apps/hono_app.ts";
import { rawHttp, type RawResponse } from "../helpers/socket.ts";

const te = new TextEncoder();
const binary = new Uint8Array(300).map((_, i) => (i * 7) % 256);

/** [name, request head (after the request line's target), body] */
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
    name: "form body",
    line: "POST /body",
    headers: ["Content-Type: application/x-www-form-urlencoded"],
    body: te.encode("x=1&x=2&name=a+b&e=%E2%82%AC"),
  },
  {
    name: "binary body",
    line: "PUT /body",
    headers: ["Content-Type: application/octet-stream"],
    body: binary,
  },
  { name: "several cookies each way", line: "GET /cookies", headers: ["Cookie: a=1; b=two; c=%20x"] },
  { name: "redirect", line: "GET /redirect" },
  { name: "204", line: "DELETE /items/42" },
  { name: "304", line: "GET /etag", headers: ['If-None-Match: "lrp-v1"'] },
  { name: "200 with etag", line: "GET /etag" },
  { name: "HEAD", line: "HEAD /head" },
  { name: "binary response", line: "GET /png", headers: ["Accept: image/png"] },
  { name: "custom status and headers", line: "GET /teapot" },
];

/** Headers that legitimately differ between two servers. */
const VOLATILE = new Set(["date"]);

function comparable(res: RawResponse) {
  return {
    status: res.status,
    headers: res.headers.filter(([n]) => !VOLATILE.has(n)).sort(([a, x], [b, y]) =>
      a < b ? -1 : a > b ? 1 : x < y ? -1 : 1
    ),
    body: Array.from(res.body),
  };
}

/** A server of the app itself, on a free loopback port. */
interface Direct {
  port: number;
  close(): Promise<void>;
}

async function parity(serveDirect: () => Promise<Direct>, handler: LambdaHandler) {
  const direct = await serveDirect();
  await using rie = startRie({ handler });
  const config = parseConfig(`local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`, { source: "t" });
  const invoker = new LocalInvoker({ endpoint: rie.url, concurrency: 1, maxWaiting: 10, maxWaitMs: 5000 });
  const lrpHandler = createHandler({
    config,
    router: createRouter(config.rules, () => invoker),
    log: silentLogger,
    version: "test",
    listenPort: 0,
  });
  await using lrp = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, lrpHandler);
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
    invoker.close();
    await direct.close();
  }
}

Deno.test("a Hono app behind lrp (hono/aws-lambda) answers byte for byte as served directly", async () => {
  await parity(() => {
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, hono.app.fetch);
    return Promise.resolve({ port: server.addr.port, close: () => server.shutdown() });
  }, hono.handler as LambdaHandler);
});

Deno.test("an Express app behind lrp (serverless-http) answers byte for byte as served directly", async () => {
  await parity(() =>
    new Promise((resolve) => {
      const server = express.app.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        resolve({ port, close: () => new Promise((done) => server.close(() => done())) });
      });
    }), express.handler as unknown as LambdaHandler);
});
