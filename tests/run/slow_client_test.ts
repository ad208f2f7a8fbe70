/**
 * Slow and stalled clients against a real lrp process: a body trickling in
 * holds no `max_in_flight` slot and only the memory that arrived; an answer a
 * client does not read counts against `max_in_flight_bytes` until written and
 * is cut after `send_timeout`; a refused upload still gets its 413 however
 * much the client sends before reading.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openRequest, readAll, request } from "../helpers/socket.ts";
import { type LrpChild, startLrpChild, tempConfig } from "../helpers/process.ts";
import { fakeRie } from "../fakes/rie.ts";

const te = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** lrp as a child process in front of `rieUrl` on app.test, with `extra` settings. */
async function lrpFor(rieUrl: string, extra: string): Promise<LrpChild & { config: string }> {
  const config = await tempConfig(`${extra}local:\n  - hostname: app.test\n    endpoint: ${rieUrl}\n`);
  const lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  return Object.assign(lrp, { config });
}

/** Closes every connection, ignoring ones already closed. */
function closeAll(conns: Deno.Conn[]) {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

Deno.test("bodies trickling in hold no max_in_flight slot: with 40 of them open, other requests get 200 at once", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  await using lrp = await lrpFor(rie.url, "max_in_flight: 10\nbody_timeout: 20s\n");
  const slow: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      slow.push(
        await openRequest(lrp.port, "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000", "x"),
      );
    }
    await sleep(300);
    const started = performance.now();
    const get = await request(lrp.port, "app.test", "/");
    const post = await request(lrp.port, "app.test", "/", { body: "hello" });
    assert.deepEqual([get.status, post.status], [200, 200]);
    assert.ok(performance.now() - started < 3000, `answered after ${performance.now() - started} ms`);
    assert.equal(rie.invocations, 2);
  } finally {
    closeAll(slow);
    await Deno.remove(lrp.config);
  }
});

Deno.test("a declared body length is not memory held: connections declaring 5 MB and sending 1 byte leave room for others", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  await using lrp = await lrpFor(rie.url, "max_in_flight_bytes: 1MB\nbody_timeout: 20s\n");
  const slow: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      slow.push(
        await openRequest(lrp.port, "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5000000", "x"),
      );
    }
    await sleep(300);
    const post = await request(lrp.port, "app.test", "/", { body: "y".repeat(1000) });
    assert.equal(post.status, 200);
  } finally {
    closeAll(slow);
    await Deno.remove(lrp.config);
  }
});

Deno.test("body bytes that arrived count against max_in_flight_bytes until their request ends", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  await using lrp = await lrpFor(rie.url, "max_in_flight_bytes: 1MB\nbody_timeout: 20s\n");
  const big = await openRequest(lrp.port, "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2000000");
  try {
    await big.write(new Uint8Array(1_100_000).fill(0x61));
    await sleep(300);
    const refused = await request(lrp.port, "app.test", "/", { body: "y".repeat(1000) });
    assert.deepEqual([refused.status, refused.header("x-lrp-error")], [503, "overloaded"]);
    assert.match(JSON.parse(refused.text).message, /bytes in flight \(max_in_flight_bytes\)$/);
  } finally {
    big.close();
    await Deno.remove(lrp.config);
  }
  await sleep(300);
  assert.equal((await request(lrp.port, "app.test", "/", { body: "y".repeat(1000) })).status, 200);
});

Deno.test("an answer not read counts against max_in_flight_bytes until written, and is cut after send_timeout", async () => {
  const answer = "z".repeat(6_000_000);
  await using rie = fakeRie(() => ({ statusCode: 200, body: answer }));
  await using lrp = await lrpFor(
    rie.url,
    "max_in_flight_bytes: 12MB\nidle_timeout: 60s\nsend_timeout: 1500ms\n",
  );
  const stalled: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 2; i++) stalled.push(await openRequest(lrp.port, "GET / HTTP/1.1\r\nHost: app.test"));
    while (rie.invocations < 2) await sleep(20);
    await sleep(300);
    // Two unread answers hold 12 MB: a third does not fit, and is dropped for a 503.
    const refused = await request(lrp.port, "app.test", "/third");
    assert.deepEqual([refused.status, refused.header("x-lrp-error")], [503, "overloaded"]);
    assert.match(
      JSON.parse(refused.text).message,
      /^Cannot pass on the function's answer \(\d+ bytes, dropped\): lrp has \d+ bytes in flight/,
    );
    // Past send_timeout (and a sweep) without reading: whatever reached the socket's buffers is readable,
    // then the connection ends (idle_timeout is a minute away): the answer never completes.
    await sleep(2500);
    const started = performance.now();
    const received = await Promise.all(stalled.map(async (c) => (await readAll(c)).length));
    assert.ok(performance.now() - started < 5000, `ended after ${performance.now() - started} ms`);
    for (const n of received) assert.ok(n < answer.length, `received ${n}`);
    await sleep(100);
    const after = await request(lrp.port, "app.test", "/");
    assert.deepEqual([after.status, after.text.length], [200, answer.length]);
  } finally {
    closeAll(stalled);
    await Deno.remove(lrp.config);
  }
});

Deno.test("answers arriving together for clients that do not read are held up to max_in_flight_bytes; the rest are 503", async () => {
  const answer = "z".repeat(6_000_000);
  await using rie = fakeRie(() => ({ statusCode: 200, body: answer }));
  const config = await tempConfig(
    `max_in_flight_bytes: 12MB\nsend_timeout: 30s\nlocal:\n` +
      `  - hostname: app.test\n    endpoint: ${rie.url}\n    concurrency: 5\n`,
  );
  await using lrp = await startLrpChild(["--host", "127.0.0.1", "--port", "0", config]);
  const stalled = await Promise.all(
    Array.from({ length: 5 }, () => openRequest(lrp.port, "GET / HTTP/1.1\r\nHost: app.test")),
  );
  try {
    while (rie.invocations < 5) await sleep(20);
    await sleep(1000);
    // Only now the clients read the first bytes of what they were sent.
    const statuses = await Promise.all(stalled.map(async (c) => {
      const buf = new Uint8Array(1024);
      const n = await c.read(buf);
      return Number(new TextDecoder().decode(buf.subarray(0, n ?? 0)).split(" ")[1]);
    }));
    assert.deepEqual(statuses.sort(), [200, 200, 503, 503, 503]);
    const dropped = lrp.lines.filter((l) => l.error === "overloaded").map((l) => l.errorMessage);
    assert.equal(dropped.length, 3);
    assert.match(
      String(dropped[0]),
      /^Cannot pass on the function's answer \(\d+ bytes, dropped\): lrp has \d+ bytes/,
    );
  } finally {
    closeAll(stalled);
    await Deno.remove(config);
  }
});

Deno.test("a 9 MB upload sent whole before reading still gets its 413: the close lingers without a byte cap", async () => {
  await using rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  await using lrp = await lrpFor(rie.url, "");
  const size = 9_000_000;
  const body = new Uint8Array(size).fill(0x62);
  const outcomes: string[] = [];
  for (let run = 0; run < 4; run++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: lrp.port });
    let outcome: string;
    try {
      await conn.write(te.encode(`POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${size}\r\n\r\n`));
      for (let at = 0; at < size;) at += await conn.write(body.subarray(at));
      outcome = (await readAll(conn)).split("\r\n")[0]!;
    } catch (err) {
      outcome = `failed: ${(err as Error).message}`;
      closeAll([conn]);
    }
    outcomes.push(outcome);
  }
  assert.deepEqual(outcomes, Array(4).fill("HTTP/1.1 413 Content Too Large"));
  assert.equal(rie.invocations, 0);
  await Deno.remove(lrp.config);
});
