/**
 * The bundled Node.js client's own Runtime API transport (one keep-alive
 * socket, answers pipelined with the next `next`) carries events and answers
 * of megabytes whole, in order, through a real lrp process.
 */
import assert from "node:assert/strict";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("the nodejs client takes a 3 MB event and gives a 3 MB answer whole, then keeps serving", async () => {
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_body
    concurrency: 1
`);
  await using lrp = await startLrpChild([path]);
  const text = "start-" + "x".repeat(3 * 1024 * 1024) + "-last!";
  const described = await request(lrp.port, "fn.test", "/describe", {
    headers: { "content-type": "text/plain" },
    body: text,
  });
  assert.equal(described.status, 200);
  assert.deepEqual(JSON.parse(described.text), {
    length: text.length,
    base64: false,
    head: "start-",
    tail: "-last!",
  });
  const large = await request(lrp.port, "fn.test", "/large-answer");
  assert.equal(large.status, 200);
  assert.equal(large.text.length, 3_000_003);
  assert.equal(large.text.slice(-4), "yend");
  // Small exchanges after the large ones, on the same process and connection.
  for (let i = 0; i < 20; i++) {
    const small = await request(lrp.port, "fn.test", "/describe", {
      headers: { "content-type": "text/plain" },
      body: `n${i}`,
    });
    assert.deepEqual(JSON.parse(small.text), {
      length: 1 + String(i).length,
      base64: false,
      head: `n${i}`,
      tail: `n${i}`,
    });
  }
});

Deno.test("an exception thrown just after the answer ends the process before it takes another event", async () => {
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_body
    concurrency: 1
`);
  await using lrp = await startLrpChild([path]);
  for (let i = 0; i < 5; i++) {
    const thrown = await request(lrp.port, "fn.test", "/throw-soon");
    assert.equal(thrown.status, 200);
    assert.equal(thrown.text, "answered");
    // Time for lrp to see the exit: a process still alive now would be handed the next event.
    await new Promise((r) => setTimeout(r, 200));
    const next = await request(lrp.port, "fn.test", "/describe", {
      headers: { "content-type": "text/plain" },
      body: "after",
    });
    assert.equal(next.status, 200, `round ${i}: ${next.text}`);
    assert.deepEqual(JSON.parse(next.text), { length: 5, base64: false, head: "after", tail: "after" });
  }
});
