import assert from "node:assert/strict";
import { RESULT_BODY, startBackend } from "../../bench/backend.ts";
import { startFakeLambdaApi } from "../fakes/lambda_api.ts";
import { type Child, spawnDeno, waitFor } from "../helpers/process.ts";
import { rawHttp } from "../helpers/socket.ts";

const CREDS = { accessKeyId: "AKIDBASELINE", secretAccessKey: "baseline-secret" };

/** Starts a bench baseline as a child process; resolves with it and its port. */
async function startBaseline(file: string, args: string[]): Promise<Child & { port: number }> {
  const child = spawnDeno(
    ["run", "--allow-net", "--allow-env", `bench/baselines/${file}`, "--port", "0", ...args],
    {
      env: {
        AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
        AWS_REGION: "us-east-1",
      },
    },
  );
  try {
    const url = await waitFor(`${file} to listen`, () => child.stdout[0]);
    return Object.assign(child, { port: Number(new URL(url).port) });
  } catch (err) {
    await child.stop("SIGKILL");
    throw err;
  }
}

const header = (headers: [string, string][], name: string) =>
  headers.filter(([n]) => n === name).map(([, v]) => v);

for (
  const [file, flags] of [
    ["fetch_proxy.ts", []],
    ["lean_proxy.ts", []],
    ["lean_proxy.ts", ["--fresh"]],
    ["lean_proxy.ts", ["--fresh", "--serial"]],
  ] as const
) {
  const name = [file, ...flags].join(" ");
  Deno.test(`${name} answers the bench backend's 2.0 result as 200 text/plain "ok"`, async () => {
    const backend = startBackend(0);
    try {
      await using proxy = await startBaseline(file, ["--upstream", backend.url, ...flags]);
      for (const head of ["GET /any?x=1 HTTP/1.1\r\nHost: a.bench", "POST / HTTP/1.1\r\nHost: a.bench"]) {
        const body = head.startsWith("POST") ? new TextEncoder().encode("xyz") : undefined;
        const res = await rawHttp(proxy.port, body ? `${head}\r\nContent-Length: 3` : head, body);
        assert.deepEqual(
          [res.status, header(res.headers, "content-type"), new TextDecoder().decode(res.body)],
          [200, ["text/plain"], JSON.parse(RESULT_BODY).body],
        );
      }
    } finally {
      await backend.server.shutdown();
    }
  });
}

Deno.test("lean_proxy.ts sends the full 2.0 event and maps a structured result back", async () => {
  const received: { path: string; contentType: string | null; event: Record<string, unknown> }[] = [];
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    received.push({
      path: new URL(request.url).pathname,
      contentType: request.headers.get("content-type"),
      event: await request.json(),
    });
    return Response.json({
      statusCode: 201,
      headers: { "X-Test": "yes" },
      cookies: ["s=1; Path=/", "t=2"],
      body: btoa("bin\u00ff"),
      isBase64Encoded: true,
    });
  });
  try {
    await using proxy = await startBaseline("lean_proxy.ts", [
      "--upstream",
      `http://127.0.0.1:${upstream.addr.port}`,
    ]);
    const res = await rawHttp(
      proxy.port,
      "POST /a%20b/c?x=1&x=2&y=a+b&z HTTP/1.1\r\nHost: Api.Example.test:8080\r\nCookie: a=1; b=2\r\n" +
        "X-Multi: one\r\nX-Multi: two\r\nUser-Agent: bench-test\r\nContent-Type: application/octet-stream\r\n" +
        "Content-Length: 3",
      new Uint8Array([0xff, 0, 1]),
    );
    assert.deepEqual(
      [res.status, header(res.headers, "x-test"), header(res.headers, "set-cookie"), [...res.body]],
      [201, ["yes"], ["s=1; Path=/", "t=2"], [0x62, 0x69, 0x6e, 0xff]],
    );
    assert.equal(received.length, 1);
    const { path, contentType, event } = received[0]!;
    assert.deepEqual([path, contentType], ["/2015-03-31/functions/function/invocations", "application/json"]);
    const ctx = event.requestContext as Record<string, unknown>;
    const headers = event.headers as Record<string, string>;
    assert.match(String(ctx.requestId), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(String(ctx.time), /^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    assert.match(headers["x-amzn-trace-id"]!, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    assert.equal(typeof ctx.timeEpoch, "number");
    assert.deepEqual(event, {
      version: "2.0",
      routeKey: "$default",
      rawPath: "/a%20b/c",
      rawQueryString: "x=1&x=2&y=a+b&z",
      cookies: ["a=1", "b=2"],
      headers: {
        "content-length": "3",
        "content-type": "application/octet-stream",
        host: "Api.Example.test:8080",
        "user-agent": "bench-test",
        "x-multi": "one, two",
        "x-forwarded-for": "127.0.0.1",
        "x-forwarded-proto": "http",
        "x-forwarded-port": String(proxy.port),
        "x-amzn-trace-id": headers["x-amzn-trace-id"],
      },
      queryStringParameters: { x: "1,2", y: "a b", z: "" },
      requestContext: {
        accountId: "anonymous",
        apiId: "api",
        domainName: "api.example.test",
        domainPrefix: "api",
        http: {
          method: "POST",
          path: "/a%20b/c",
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: "bench-test",
        },
        requestId: ctx.requestId,
        routeKey: "$default",
        stage: "$default",
        time: ctx.time,
        timeEpoch: ctx.timeEpoch,
      },
      body: "/wAB",
      isBase64Encoded: true,
    });
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("lean_proxy.ts --sign calls the Invoke API with a SigV4 signature the fake accepts", async () => {
  await using api = startFakeLambdaApi({
    functions: [{
      name: "bench-fn",
      handler: (event) => ({
        kind: "result",
        value: { statusCode: 200, body: String((event as { rawPath: string }).rawPath) },
      }),
    }],
    credentials: CREDS,
    region: "us-east-1",
  });
  await using proxy = await startBaseline("lean_proxy.ts", ["--upstream", api.url, "--sign"]);
  const first = await rawHttp(proxy.port, "GET /one HTTP/1.1\r\nHost: aws.bench");
  const second = await rawHttp(proxy.port, "GET /two HTTP/1.1\r\nHost: aws.bench");
  assert.deepEqual(
    [
      first.status,
      new TextDecoder().decode(first.body),
      second.status,
      new TextDecoder().decode(second.body),
    ],
    [200, "/one", 200, "/two"],
  );
  assert.deepEqual(
    api.requests.map((r) => [r.path, r.operation, r.functionName, r.signatureValid]),
    [
      ["/2015-03-31/functions/bench-fn/invocations", "Invoke", "bench-fn", true],
      ["/2015-03-31/functions/bench-fn/invocations", "Invoke", "bench-fn", true],
    ],
  );
});

Deno.test("lean_proxy.ts --fresh --serial makes one call at a time", async () => {
  let running = 0;
  let most = 0;
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.arrayBuffer();
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    return Response.json({ statusCode: 200, body: "ok" });
  });
  try {
    await using proxy = await startBaseline("lean_proxy.ts", [
      "--upstream",
      `http://127.0.0.1:${upstream.addr.port}`,
      "--fresh",
      "--serial",
    ]);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => rawHttp(proxy.port, "GET / HTTP/1.1\r\nHost: a.bench")),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(most, 1);
  } finally {
    await upstream.shutdown();
  }
});
