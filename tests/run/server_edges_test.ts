/**
 * Requests lrp's server answers itself, through a real lrp process: `OPTIONS
 * *` (about the server, never a function's) and a chunk size no body limit
 * could ever take.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openRequest, readAll, request } from "../helpers/socket.ts";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { fakeRie } from "../fakes/rie.ts";

Deno.test("OPTIONS * is answered by lrp (200, Allow, no body) and never reaches a function", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "from the function" }));
  const config = await tempConfig(`local:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`);
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  for (const target of ["*", "http://app.test"]) {
    const res = await request(lrp.port, "app.test", target, { method: "OPTIONS" });
    assert.equal(res.status, 200, target);
    assert.equal(res.header("allow"), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS", target);
    assert.equal(res.header("content-length"), "0", target);
    assert.equal(res.text, "", target);
  }
  // A path is a resource of the function: OPTIONS on it is the function's to answer.
  assert.equal((await request(lrp.port, "app.test", "/", { method: "OPTIONS" })).text, "from the function");
  assert.equal(rie.invocations, 1);
  await lrp.waitForLine((l) => l.msg === "request" && l.target === `local ${rie.url}`);
  const logged = lrp.lines.filter((l) => l.msg === "request" && l.method === "OPTIONS");
  assert.deepEqual(logged.map((l) => [l.target, l.status]), [["internal", 200], ["internal", 200], [
    `local ${rie.url}`,
    200,
  ]]);
  await Deno.remove(config);
});

Deno.test("a chunk size larger than max_body_size is answered 413 at once, before any of it arrives", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const config = await tempConfig(
    `body_timeout: 20s\nmax_body_size: 1000\nlocal:\n  - hostname: app.test\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  for (const size of ["ffffffffffff", "3e9"]) {
    const conn = await openRequest(
      lrp.port,
      "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked",
      `${size}\r\nabc`,
    );
    const started = performance.now();
    const text = await readAll(conn);
    assert.match(text, /^HTTP\/1\.1 413 Content Too Large\r\n/, size);
    assert.equal(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error, "body_too_large");
    assert.ok(performance.now() - started < 3000, `${size}: after ${performance.now() - started} ms`);
  }
  // Exactly the limit, in two chunks, is fine to announce.
  const fits = await openRequest(
    lrp.port,
    "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nConnection: close",
    `3\r\nabc\r\n3e5\r\n${"d".repeat(997)}\r\n0\r\n\r\n`,
  );
  assert.match(await readAll(fits), /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(rie.invocations, 1);
  await Deno.remove(config);
});
