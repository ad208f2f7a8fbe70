/**
 * The inspector belongs to this machine, through a real lrp process: it
 * answers only Host names of this machine (loopback names and addresses) and
 * the names `internal_hosts` lists, obeys `internal_hosts` as `/ping` does,
 * and replays only for a page whose Origin is such a host — so a page on
 * another site whose name is re-pointed to 127.0.0.1 (DNS rebinding) reads
 * and replays nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { request } from "../helpers/socket.ts";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { fakeRie } from "../fakes/rie.ts";

const JSON_TYPE = { "content-type": "application/json" };

Deno.test("the inspector answers loopback Host names only: a rebound evil.example gets the usual 404, nothing replayed", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const config = await tempConfig(
    `inspect: true\nlocal:\n  - hostname: fn.localhost\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  const port = lrp.port;
  assert.equal((await request(port, "fn.localhost", "/first")).status, 200);
  for (
    const host of [
      "localhost",
      `localhost:${port}`,
      "app.localhost",
      "127.0.0.1",
      `127.9.8.7:${port}`,
      "[::1]",
    ]
  ) {
    assert.equal((await request(port, host, "/inspect")).status, 200, host);
    assert.equal((await request(port, host, "/inspect/exchanges/1")).status, 200, host);
  }
  for (
    const host of ["evil.example", `evil.example:${port}`, "localhost.evil.example", "10.0.0.1", "[::2]"]
  ) {
    for (const path of ["/inspect", "/inspect/events", "/inspect/exchanges/1"]) {
      const res = await request(port, host, path);
      assert.deepEqual([res.status, JSON.parse(res.text).error], [404, "route_not_found"], `${host}${path}`);
    }
    const replay = await request(port, host, "/inspect/replay", {
      method: "POST",
      headers: { ...JSON_TYPE, origin: `http://${host}` },
      body: '{"id":1}',
    });
    assert.equal(replay.status, 404, host);
  }
  assert.equal(rie.invocations, 1);
  await Deno.remove(config);
});

Deno.test("replay refuses an Origin that is not this machine's, even one naming the same host as Host", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const config = await tempConfig(
    `inspect: true\nlocal:\n  - hostname: fn.localhost\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  const port = lrp.port;
  await request(port, "fn.localhost", "/first");
  const replay = (host: string, headers: Record<string, string>) =>
    request(port, host, "/inspect/replay", {
      method: "POST",
      headers: { ...JSON_TYPE, ...headers },
      body: '{"id":1}',
    });
  for (
    const origin of [
      "http://evil.example",
      `http://evil.example:${port}`,
      "null",
      "http://localhost.evil.example",
    ]
  ) {
    const res = await replay(`localhost:${port}`, { origin });
    assert.equal(res.status, 400, origin);
    assert.match(JSON.parse(res.text).message, /^Cannot replay from origin /, origin);
  }
  const crossSite = await replay(`localhost:${port}`, {
    origin: `http://localhost:${port}`,
    "sec-fetch-site": "cross-site",
  });
  assert.equal(crossSite.status, 400);
  assert.equal(rie.invocations, 1);
  const own = await replay(`localhost:${port}`, {
    origin: `http://localhost:${port}`,
    "sec-fetch-site": "same-origin",
  });
  assert.equal(own.status, 200);
  assert.equal(rie.invocations, 2);
  await Deno.remove(config);
});

Deno.test("with internal_hosts set the inspector obeys it as /ping does, and answers the names it lists", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const config = await tempConfig(
    `inspect: true\ninternal_hosts: [lrp.internal]\nlocal:\n  - hostname: fn.localhost\n    endpoint: ${rie.url}\n`,
  );
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  const port = lrp.port;
  assert.equal((await request(port, "lrp.internal", "/inspect")).status, 200);
  assert.equal((await request(port, "lrp.internal", "/ping")).status, 200);
  // Not listed: neither /ping nor the inspector is lrp's for this Host; fn.localhost's function answers.
  const ping = await request(port, "fn.localhost", "/ping");
  const page = await request(port, "fn.localhost", "/inspect");
  assert.deepEqual([ping.status, ping.text, page.status, page.text], [200, "ok", 200, "ok"]);
  assert.equal((await request(port, "localhost", "/inspect")).status, 404);
  await Deno.remove(config);
});
