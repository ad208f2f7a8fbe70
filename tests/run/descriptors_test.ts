/**
 * Descriptor exhaustion: lrp under `ulimit -n 256` with more idle client
 * connections than descriptors keeps running, serves the connections it has,
 * and accepts again once descriptors free up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseOpenFilesLimit, reserveFor } from "../../lib/http/listen.ts";
import { fakeRie } from "../fakes/rie.ts";
import { startLrpChild } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

Deno.test("the soft open-files limit is read from /proc/self/limits text", () => {
  const text = "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max cpu time              unlimited            unlimited            seconds   \n" +
    "Max open files            256                  1024                 files     \n";
  assert.equal(parseOpenFilesLimit(text), 256);
  assert.equal(parseOpenFilesLimit(text.replace("256 ", "unlimited ")), undefined);
  assert.equal(parseOpenFilesLimit(""), undefined);
  assert.deepEqual([reserveFor(64), reserveFor(256), reserveFor(1024), reserveFor(1 << 20)], [
    8,
    32,
    128,
    256,
  ]);
});

Deno.test("300 idle sockets under ulimit -n 256 do not end lrp; it answers again once they close", async () => {
  if (Deno.build.os !== "linux") return;
  await using rie = fakeRie(() => ({ statusCode: 200, body: "still here" }));
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/lrp.yaml`;
    await Deno.writeTextFile(path, `local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`);
    await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", path], {
      openFilesLimit: 256,
      env: { DENO_NO_UPDATE_CHECK: "1" },
    });
    const listening = await lrp.waitForLine((l) => l.msg === "lrp listening");
    assert.equal(listening.descriptorLimit, 256);
    assert.equal(typeof listening.connectionCap, "number");
    assert.ok((listening.connectionCap as number) < 256 - 32);
    const port = Number(new URL(lrp.url).port);

    // An idle keep-alive connection opened first must still be served while accepting is stopped.
    const early = await Deno.connect({ hostname: "127.0.0.1", port });
    const conns: Deno.Conn[] = [early];
    try {
      for (let i = 0; i < 300; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        } catch {
          // Refused while lrp is not accepting: expected once the cap is reached.
        }
      }
      await lrp.waitForLine((l) => String(l.msg).startsWith("cannot accept connections"), 10_000);
      const exited = await Promise.race([lrp.process.status.then(() => true), Promise.resolve(false)]);
      assert.equal(exited, false);

      await early.write(new TextEncoder().encode("GET /ping HTTP/1.1\r\nHost: app.test\r\n\r\n"));
      const buf = new Uint8Array(4096);
      const n = await early.read(buf);
      assert.match(
        new TextDecoder().decode(buf.subarray(0, n ?? 0)),
        /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\npong$/,
      );
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by lrp */ }
      }
    }

    await lrp.waitForLine((l) => l.msg === "accepting connections again", 10_000);
    const res = await request(port, "app.test", "/");
    assert.deepEqual([res.status, res.text], [200, "still here"]);
    const status = await lrp.stop();
    assert.equal(status.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
