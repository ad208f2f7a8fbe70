/**
 * A function's Runtime API listener under malformed requests from any local
 * process: every byte value and every percent-escape where the invocation id
 * goes, through a real lrp process. Each gets a Lambda error status, lrp's
 * log stays JSON lines (no stack trace written by the listener), and the
 * function's own invocations are untouched.
 */
import assert from "node:assert/strict";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const te = new TextEncoder();
const td = new TextDecoder();

/** Sends one raw request (`target` byte for byte) to the listener; the status, or 0 if it closed without one. */
async function send(port: number, method: string, target: Uint8Array): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new Uint8Array([
        ...te.encode(`${method} `),
        ...target,
        ...te.encode(" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"),
      ]),
    );
    let text = "";
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += td.decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

Deno.test("every byte and %XX where the invocation id goes gets a 4xx from the Runtime API, never a 500 or a stack trace in lrp's log", async () => {
  const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_private
    timeout: 10s
`);
  await using lrp = await startLrpChild([path]);
  const first = JSON.parse((await request(lrp.port, "fn.test", "/")).text);
  const statuses = new Map<number, number>();
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
  for (let b = 0; b < 256; b++) {
    const hex = b.toString(16).padStart(2, "0").toUpperCase();
    for (const kind of ["response", "error"]) {
      count(await send(first.port, "POST", te.encode(`/2018-06-01/runtime/invocation/%${hex}/${kind}`)));
      count(await send(first.port, "POST", te.encode(`/2018-06-01/runtime/invocation/x%${hex}%/${kind}`)));
      count(
        await send(
          first.port,
          "POST",
          new Uint8Array([...te.encode("/2018-06-01/runtime/invocation/"), b, ...te.encode(`/${kind}`)]),
        ),
      );
    }
  }
  assert.deepEqual(
    [...statuses.keys()].filter((s) => !(s >= 400 && s < 500) && s !== 0),
    [],
    `statuses ${[...statuses]}`,
  );
  const after = await request(lrp.port, "fn.test", "/");
  assert.equal(after.status, 200);
  assert.equal(JSON.parse(after.text).pid, first.pid, "the runtime was not disturbed");
  const raw = lrp.stderr.filter((l) => !l.startsWith("{"));
  assert.deepEqual(raw, []);
});
