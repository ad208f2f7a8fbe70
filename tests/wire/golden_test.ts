/**
 * Replays the HTTP requests behind AWS's own sample events (tests/testdata)
 * through lrp on a real socket and compares the event lrp produces with AWS's
 * on every field a proxy can reproduce (tests/testdata/README.md).
 */
import { handlerWith } from "../helpers/in_process.ts";
import assert from "node:assert/strict";
import { RecordingInvoker } from "../helpers/in_process.ts";
import { rawHttp } from "../helpers/socket.ts";

interface Replay {
  method: string;
  target: string;
  headers: [string, string][];
  body: null | { base64: string };
}

/** Headers AWS or the environment add; compared by presence/format elsewhere, not by value. */
const ENVIRONMENT_HEADERS = new Set([
  "host",
  "x-amzn-trace-id",
  "x-forwarded-for",
  "x-forwarded-port",
  "x-forwarded-proto",
  "x-amzn-tls-version",
  "x-amzn-tls-cipher-suite",
  "content-length",
]);

const GOLDEN = [
  "function-url-post-iam",
  "function-url-get-browser",
  "http-api-v2-get-cookies",
  "http-api-v2-post-no-body",
  "http-api-v2-get-mtls",
];

/**
 * Where lrp knowingly differs from a sample (each explained in the README):
 * a sample without content-type gets a base64 body (docs/wire-format.md, "Body encoding"); a
 * captured `isBase64Encoded: true` without a body; Deno joins repeated
 * header lines with ", ".
 */
const EXPECTED_DIFFERENCES: Record<string, Record<string, unknown>> = {
  "function-url-post-iam": {
    body: btoa("Hello from client!"),
    isBase64Encoded: true,
    "headers.header2": "value1, value2",
  },
  "http-api-v2-get-cookies": { isBase64Encoded: false },
};

async function load(name: string): Promise<[Record<string, unknown>, Replay]> {
  const dir = new URL("../testdata/", import.meta.url);
  return [
    JSON.parse(await Deno.readTextFile(new URL(`${name}.json`, dir))),
    JSON.parse(await Deno.readTextFile(new URL(`${name}.request.json`, dir))),
  ];
}

function reproducible(event: Record<string, unknown>): Record<string, unknown> {
  const ctx = event.requestContext as { http: Record<string, unknown> };
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event.headers as Record<string, string>)) {
    if (!ENVIRONMENT_HEADERS.has(k)) headers[`headers.${k}`] = v;
  }
  return {
    version: event.version,
    rawPath: event.rawPath,
    rawQueryString: event.rawQueryString,
    cookies: event.cookies,
    queryStringParameters: event.queryStringParameters,
    body: event.body,
    isBase64Encoded: event.isBase64Encoded,
    method: ctx.http.method,
    path: ctx.http.path,
    protocol: ctx.http.protocol,
    ...headers,
  };
}

for (const name of GOLDEN) {
  Deno.test(`lrp reproduces the AWS sample event ${name} from its HTTP request`, async () => {
    const [golden, replay] = await load(name);
    const invoker = new RecordingInvoker();
    const { handler } = handlerWith(
      "local:\n  - hostname: golden.test\n    endpoint: http://unused:1\n",
      invoker,
      {
        listenPort: 443,
      },
    );
    await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
    const lines = [`${replay.method} ${replay.target} HTTP/1.1`, "Host: golden.test"];
    for (const [k, v] of replay.headers) if (k !== "host") lines.push(`${k}: ${v}`);
    const body = replay.body ? Uint8Array.from(atob(replay.body.base64), (c) => c.charCodeAt(0)) : undefined;
    if (body) lines.push(`content-length: ${body.length}`);
    const res = await rawHttp(server.addr.port, lines.join("\r\n"), body);
    assert.equal(res.status, 200);
    assert.equal(invoker.events.length, 1);

    const produced = reproducible(invoker.events[0]!);
    const expected = { ...reproducible(golden), ...EXPECTED_DIFFERENCES[name] };
    if (golden.version !== "2.0") delete expected.version;
    // A sample's redacted user agent is not reproducible; the header is.
    assert.deepEqual(produced, expected);
    const ctx = invoker.events[0]!.requestContext as Record<string, unknown>;
    assert.match(String(ctx.time), /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    assert.equal(ctx.domainName, "golden.test");
    assert.equal((ctx.http as Record<string, unknown>).sourceIp, "127.0.0.1");
  });
}
