/**
 * The private channel of lrp's own clients (lib/runtime/channel.ts): a socket
 * in a 0700 folder that only a connection sending the process's key can use,
 * removed once it has; events and answers go over it as frames, and a frame
 * over the limit closes it. The bundled Node.js client uses it end to end
 * (docs/functions.md, "The private channel").
 */
import assert from "node:assert/strict";
import { type Answer, type Invocation, MAX_CHANNEL_FRAME, RuntimeApi } from "../../lib/runtime/api.ts";
import { startLrpChild, tempConfig } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

function frame(kind: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, 1 + body.length);
  out[4] = kind;
  out.set(body, 5);
  return out;
}

/** Reads what arrives until `n` bytes or the end; returns them (fewer when the connection closed). */
async function readBytes(conn: Deno.UnixConn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  while (at < n) {
    const got = await conn.read(out.subarray(at));
    if (got === null) break;
    at += got;
  }
  return out.subarray(0, at);
}

function invocation(id: string, payload: string, answers: Answer[]): Invocation {
  return {
    id,
    payload: new TextEncoder().encode(payload),
    deadlineMs: 1_700_000_000_000,
    traceId: "Root=1-abc",
    answer: (a) => answers.push(a),
    delivered: () => {},
    finished: () => {},
  };
}

Deno.test("the channel's folder is 0700; a wrong key is closed, the right key takes the event and answers, then the socket is gone", async () => {
  let ready = 0;
  const api = new RuntimeApi({
    functionArn: "arn:aws:lambda:us-east-1:012345678912:function:f",
    onReady: () => ready++,
    onInitError: () => {},
    channel: true,
  });
  try {
    const path = api.channel!.path;
    const key = api.address.slice(api.address.indexOf("/") + 1);
    assert.equal((await Deno.stat(path.slice(0, path.lastIndexOf("/")))).mode! & 0o777, 0o700);

    const intruder = await Deno.connect({ transport: "unix", path });
    await intruder.write(frame(1, new TextEncoder().encode("0".repeat(32))));
    await intruder.write(frame(2));
    assert.equal((await readBytes(intruder, 1)).length, 0, "a wrong key is closed without an event");
    intruder.close();
    assert.equal(ready, 0);

    const runtime = await Deno.connect({ transport: "unix", path });
    await runtime.write(frame(1, new TextEncoder().encode(key)));
    await runtime.write(frame(2));
    const answers: Answer[] = [];
    api.assign(invocation("id-1", '{"a":1}', answers));
    const head = await readBytes(runtime, 7);
    const view = new DataView(head.buffer);
    const rest = await readBytes(runtime, view.getUint32(0) - 3);
    assert.equal(head[4], 1);
    const headLength = view.getUint16(5);
    assert.equal(
      new TextDecoder().decode(rest.subarray(0, headLength)),
      "id-1\n1700000000000\narn:aws:lambda:us-east-1:012345678912:function:f\nRoot=1-abc",
    );
    assert.equal(new TextDecoder().decode(rest.subarray(headLength)), '{"a":1}');
    assert.equal(ready, 1);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
    await assert.rejects(Deno.connect({ transport: "unix", path }));

    const id = new TextEncoder().encode("id-1");
    await runtime.write(frame(3, new Uint8Array([id.length, ...id, ...new TextEncoder().encode('"ok"')])));
    for (let i = 0; i < 100 && answers.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(answers, [{
      kind: "buffered",
      bytes: new TextEncoder().encode('"ok"'),
      contentType: "application/json",
    }]);

    // A frame over the limit ends the channel.
    const big = new Uint8Array(4);
    new DataView(big.buffer).setUint32(0, MAX_CHANNEL_FRAME + 1);
    await runtime.write(big);
    assert.equal((await readBytes(runtime, 1)).length, 0);
    runtime.close();
  } finally {
    await api.close();
  }
});

for (
  const [runtime, code] of [["nodejs", "node_private"], ["deno", "deno_private"], [
    "python",
    "py_private",
  ]] as const
) {
  Deno.test(`a ${runtime} function's runtime is connected to its channel, whose socket is then gone; its handler does not see LRP_RUNTIME_CHANNEL`, async () => {
    const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: ${runtime}
    handler: index.handler
    code: ${FIXTURES}${code}
`);
    await using lrp = await startLrpChild([path]);
    const port = Number(new URL(lrp.url).port);
    const first = JSON.parse((await request(port, "fn.test", "/")).text);
    const environ = (await Deno.readTextFile(`/proc/${first.pid}/environ`)).split("\0");
    const socket = environ.find((v) => v.startsWith("LRP_RUNTIME_CHANNEL="))!.slice(
      "LRP_RUNTIME_CHANNEL=".length,
    );
    assert.match(socket, /\/lrp-channel-[^/]+\/s$/);
    await assert.rejects(Deno.stat(socket), Deno.errors.NotFound);
    assert.equal(first.channelVisible, false);
    const second = JSON.parse((await request(port, "fn.test", "/")).text);
    assert.equal(second.pid, first.pid);
  });
}

for (const [runtime, code] of [["deno", "deno_private"], ["python", "py_private"]] as const) {
  Deno.test(`a ${runtime} function on the channel: a 2 MB answer goes over the Runtime API, small ones over the channel`, async () => {
    const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: ${runtime}
    handler: index.handler
    code: ${FIXTURES}${code}
    concurrency: 1
`);
    await using lrp = await startLrpChild([path]);
    const port = Number(new URL(lrp.url).port);
    const big = await request(port, "fn.test", "/big");
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 2 * 1024 * 1024);
    const logged = await Promise.all(Array.from({ length: 20 }, () => request(port, "fn.test", "/log")));
    assert.deepEqual(logged.map((r) => r.status), Array(20).fill(200));
    const after = JSON.parse((await request(port, "fn.test", "/")).text);
    assert.equal(after.channelVisible, false);
  });
}

Deno.test("where no channel socket can be made (a temporary folder too long for one), a nodejs function answers over HTTP", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "lrp-long-" });
  const long = `${tmp}/${"d".repeat(110)}`;
  await Deno.mkdir(long);
  try {
    const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_private
`);
    await using lrp = await startLrpChild([path], { env: { TMPDIR: long } });
    const port = Number(new URL(lrp.url).port);
    const answers = [await request(port, "fn.test", "/"), await request(port, "fn.test", "/")];
    assert.deepEqual(answers.map((a) => a.status), [200, 200]);
    const first = JSON.parse(answers[0]!.text);
    assert.equal(JSON.parse(answers[1]!.text).pid, first.pid);
    const environ = (await Deno.readTextFile(`/proc/${first.pid}/environ`)).split("\0");
    assert.equal(environ.some((v) => v.startsWith("LRP_RUNTIME_CHANNEL=")), false);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A Runtime API with its channel open: the runtime's connection has said HELLO and NEXT. */
async function connected(seen: { outputs: string[]; pipes: number; finished: (boolean | undefined)[] }) {
  const api = new RuntimeApi({
    functionArn: "arn:aws:lambda:us-east-1:012345678912:function:f",
    onReady: () => {},
    onInitError: () => {},
    channel: true,
    onOutput: (stream, bytes) => seen.outputs.push(`${stream}:${new TextDecoder().decode(bytes)}`),
    onPipes: () => seen.pipes++,
  });
  const conn = await Deno.connect({ transport: "unix", path: api.channel!.path });
  await conn.write(frame(1, new TextEncoder().encode(api.address.slice(api.address.indexOf("/") + 1))));
  await conn.write(frame(2));
  return { api, conn };
}

const waitFor = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 2));
};

Deno.test("OUTPUT frames reach the process in order, before the answer they precede, which ends the invocation in order", async () => {
  const seen = { outputs: [] as string[], pipes: 0, finished: [] as (boolean | undefined)[] };
  const { api, conn } = await connected(seen);
  try {
    const answers: Answer[] = [];
    const inv = invocation("id-1", "{}", answers);
    inv.finished = (inOrder) => seen.finished.push(inOrder);
    api.assign(inv);
    const head = await readBytes(conn, 4);
    await readBytes(conn, new DataView(head.buffer).getUint32(0));
    const text = (s: string) => new TextEncoder().encode(s);
    const id = text("id-1");
    // Three frames in one write: stdout, stderr, the answer.
    await conn.write(
      new Uint8Array([
        ...frame(4, new Uint8Array([1, ...text("to stdout\n")])),
        ...frame(4, new Uint8Array([2, ...text("to stderr\n")])),
        ...frame(3, new Uint8Array([id.length, ...id, ...text("null")])),
      ]),
    );
    await waitFor(() => seen.finished.length > 0);
    assert.deepEqual(seen.outputs, ["stdout:to stdout\n", "stderr:to stderr\n"]);
    assert.deepEqual(seen.finished, [true], "an answer over the channel comes after its output");
    assert.equal(answers.length, 1);
  } finally {
    conn.close();
    await api.close();
  }
});

Deno.test("every kind byte and every stream byte: only NEXT, RESPONSE, OUTPUT to streams 1 and 2, and PIPES keep the channel", async () => {
  const cases: [number, number][] = [
    ...Array.from({ length: 256 }, (_, kind) => [kind, 1] as [number, number]),
    ...Array.from({ length: 256 }, (_, stream) => [4, stream] as [number, number]),
  ];
  for (const [kind, stream] of cases) {
    const seen = { outputs: [] as string[], pipes: 0, finished: [] as (boolean | undefined)[] };
    const { api, conn } = await connected(seen);
    try {
      await conn.write(frame(kind, new Uint8Array([stream, 0x41, 0x0a])));
      // PIPES after it: heard only while the channel is still open.
      await conn.write(frame(5)).catch(() => {});
      const kept = [2, 3, 5].includes(kind) || (kind === 4 && (stream === 1 || stream === 2));
      if (kept) {
        await waitFor(() => seen.pipes >= 1);
        assert.ok(seen.pipes >= 1, `kind ${kind}, stream ${stream}: the channel stays open`);
        assert.deepEqual(seen.outputs, kind === 4 ? [`${stream === 1 ? "stdout" : "stderr"}:A\n`] : []);
      } else {
        assert.equal(
          (await readBytes(conn, 1)).length,
          0,
          `kind ${kind}, stream ${stream}: the channel closes`,
        );
        assert.equal(seen.pipes, 0);
        assert.deepEqual(seen.outputs, []);
      }
    } finally {
      conn.close();
      await api.close();
    }
  }
});
