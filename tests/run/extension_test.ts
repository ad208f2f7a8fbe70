import assert from "node:assert/strict";
import { EXTENSION_PATH } from "../../lib/run/extension.ts";
import { startLrpChild } from "../helpers/process.ts";

/**
 * A fake Extensions API: checks registration, hands out INVOKE, then holds
 * SHUTDOWN until `shutdown()` is called.
 */
function fakeExtensionsApi() {
  const calls: string[] = [];
  let release!: () => void;
  const shutdownGate = new Promise<void>((r) => release = r);
  let nexts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method === "POST" && path === `${EXTENSION_PATH}/register`) {
      calls.push(`register ${request.headers.get("lambda-extension-name")} ${await request.text()}`);
      return Response.json({ functionName: "f", functionVersion: "$LATEST", handler: "x" }, {
        headers: { "lambda-extension-identifier": "ext-1" },
      });
    }
    if (request.method === "GET" && path === `${EXTENSION_PATH}/event/next`) {
      calls.push(`next ${request.headers.get("lambda-extension-identifier")}`);
      if (nexts++ === 0) return Response.json({ eventType: "INVOKE", requestId: "r-1", deadlineMs: 0 });
      await shutdownGate;
      return Response.json({ eventType: "SHUTDOWN", shutdownReason: "spindown", deadlineMs: 0 });
    }
    return new Response("unexpected", { status: 400 });
  });
  return Object.assign(server, { calls, shutdown: release, api: `127.0.0.1:${server.addr.port}` });
}

Deno.test("lrp extension registers, serves lrp on localhost until SHUTDOWN, then exits 0", async () => {
  await using api = fakeExtensionsApi();
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/lrp.yaml`, "host: 127.0.0.1\nport: 0\n");
  const child = await startLrpChild(["extension", "lrp.yaml"], {
    cwd: dir,
    env: { AWS_LAMBDA_RUNTIME_API: api.api, LRP_EXTENSION_NAME: "lrp-ext" },
  });
  while (api.calls.length < 3) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await (await fetch(`${child.url}/ping`)).text(), "pong");
  api.shutdown();
  const status = await child.exited;
  const text = child.stderr.join("\n");
  assert.equal(status.code, 0);
  assert.deepEqual(api.calls, [
    'register lrp-ext {"events":["INVOKE","SHUTDOWN"]}',
    "next ext-1",
    "next ext-1",
  ]);
  assert.match(text, /"msg":"shutting down","extensionShutdown":"spindown"/);
  await Deno.remove(dir, { recursive: true });
});
