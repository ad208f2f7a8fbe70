/**
 * The Runtime API of a runtime process is private to it: another local
 * process that knows the listener's port cannot take an invocation (the
 * event carries the client's headers) nor answer one. A real intruding
 * process (`fixtures/intruder.mjs`) attacks a function of a real lrp process.
 */
import assert from "node:assert/strict";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** Starts the intruder against `port`; resolves once it runs, with its result to come. */
async function intrude(port: number): Promise<Promise<Record<string, unknown>>> {
  const child = new Deno.Command("node", {
    args: [`${FIXTURES}intruder.mjs`, String(port)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("started\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("the intruder did not start");
    text += value;
  }
  return (async () => {
    for (let r; !(r = await lines.read()).done;) text += r.value;
    await child.status;
    return JSON.parse(text.slice(text.indexOf("started\n") + "started\n".length));
  })();
}

Deno.test("another local process cannot take or answer a function's invocation; the runtime's own are untouched", async () => {
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_private
    timeout: 10s
`);
  await using lrp = await startLrpChild([path]);
  const port = Number(new URL(lrp.url).port);
  const first = JSON.parse((await request(port, "fn.test", "/")).text);
  assert.equal(first.real, true);

  // The runtime is idle, its `next` waiting: the intruder's own `next` races it for the following event.
  const idle = await intrude(first.port);
  await new Promise((r) => setTimeout(r, 300));
  const during = await request(port, "fn.test", "/", { headers: { authorization: "Bearer secret" } });
  assert.deepEqual(await idle, { next: 403, nextWithMadeUpKey: 404, response: 400, error: 400 });
  assert.equal(during.status, 200);
  const second = JSON.parse(during.text);
  assert.equal(second.real, true);
  assert.equal(second.pid, first.pid, "the runtime was not disturbed");

  // An invocation in flight: the intruder's guesses neither take nor settle it.
  const inFlight = request(port, "fn.test", "/?sleep=1500");
  await lrp.waitForLine((l) =>
    String(l.msg).startsWith("START RequestId:") && ![first.requestId, second.requestId].includes(l.requestId)
  );
  assert.deepEqual(await (await intrude(first.port)), {
    next: 403,
    nextWithMadeUpKey: 404,
    response: 400,
    error: 400,
  });
  const third = await inFlight;
  assert.equal(third.status, 200);
  assert.equal(JSON.parse(third.text).real, true);
  assert.equal(JSON.parse(third.text).pid, first.pid);
});
