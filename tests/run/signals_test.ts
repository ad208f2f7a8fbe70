/**
 * Ctrl-C is graceful: a second SIGINT/SIGTERM while shutting down does not
 * cut in-flight requests; a third forces the exit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fakeRie } from "../fakes/rie.ts";
import { startLrpChild } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

async function setup(delayMs: number) {
  let release = () => {};
  const released = new Promise<void>((r) => release = r);
  const rie = fakeRie(async (event) => {
    await Promise.race([released, new Promise((r) => setTimeout(r, delayMs))]);
    return { statusCode: 200, body: `done ${(event as { rawPath: string }).rawPath}` };
  });
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lrp.yaml`;
  await Deno.writeTextFile(
    path,
    `local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n    concurrency: 2\n`,
  );
  const lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path]);
  const port = Number(new URL(lrp.url).port);
  const call = (p: string) => request(port, "app.test", p).then((r) => [r.status, r.text]);
  return {
    rie,
    lrp,
    call,
    async inFlight(n: number) {
      for (let i = 0; rie.invocations < n; i++) {
        if (i > 1000) throw new Error(`only ${rie.invocations} invocations arrived`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async [Symbol.asyncDispose]() {
      release();
      await lrp.stop();
      await rie.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("a second SIGINT during shutdown lets both in-flight requests finish with 200, then exit 0", async () => {
  if (Deno.build.os === "windows") return;
  await using s = await setup(1500);
  const a = s.call("/a");
  const b = s.call("/b");
  await s.inFlight(2);
  s.lrp.process.kill("SIGINT");
  await s.lrp.waitForLine((l) => l.msg === "shutting down");
  s.lrp.process.kill("SIGINT");
  await s.lrp.waitForLine((l) => l.msg === "already shutting down; a third signal forces the exit");
  assert.deepEqual(await Promise.all([a, b]), [[200, "done /a"], [200, "done /b"]]);
  assert.equal((await s.lrp.process.status).code, 0);
});

Deno.test("a third SIGTERM during shutdown forces the exit, logged, with status 143", async () => {
  if (Deno.build.os === "windows") return;
  await using s = await setup(60_000);
  const a = s.call("/a").catch((err) => err);
  await s.inFlight(1);
  for (const expected of ["shutting down", "already shutting down; a third signal forces the exit"]) {
    s.lrp.process.kill("SIGTERM");
    await s.lrp.waitForLine((l) => l.msg === expected);
  }
  s.lrp.process.kill("SIGTERM");
  const forced = await s.lrp.waitForLine((l) => l.msg === "forced exit: in-flight requests were cut");
  assert.deepEqual([forced.level, forced.signal, forced.inFlight], ["error", "SIGTERM", 1]);
  assert.equal((await s.lrp.process.status).code, 143);
  assert.ok((await a) instanceof Error);
});
