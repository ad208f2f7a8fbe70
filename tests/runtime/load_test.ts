/**
 * A `functions:` rule under load and across lrp's life: concurrency bounded by
 * processes that each run one invocation at a time and are reused; clients
 * that leave; the code changing under `watch: true`.
 */
import assert from "node:assert/strict";
import { alive, startLrpChild, tempConfig } from "../helpers/process.ts";
import { rawHttp, readResponse, request } from "../helpers/socket.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** A config with one `fn.test` rule running the node_echo fixture, `extra` holding more of the rule's lines. */
const echoConfig = (extra: string) =>
  tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${FIXTURES}node_echo
${extra}`);

/** How long the load runs, and the most requests it sends whatever the machine's speed. */
const LOAD_MS = 5_000;
const LOAD_MAX_REQUESTS = 4_000;

/** One keep-alive connection's request/response; the status and the JSON body. */
async function ask(
  conn: Deno.Conn,
  target: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  await conn.write(new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: fn.test\r\n\r\n`));
  const text = await readResponse(conn);
  const status = Number(text.slice(9, 12));
  return { status, body: status === 200 ? JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)) : {} };
}

Deno.test("concurrency 4 with 64 connections for 5 s: all 200, at most 4 in flight, never two in one process, each process reused", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  await using tracker = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/enter") maxInFlight = Math.max(maxInFlight, ++inFlight);
    else inFlight--;
    return new Response("ok");
  });
  const path = await echoConfig(`    concurrency: 4
    timeout: 30s
    queue_limit: 64
    queue_timeout: 30s
`);
  await using lrp = await startLrpChild([path]);
  const port = Number(new URL(lrp.url).port);
  const target = `/?sleep=2&track=${encodeURIComponent(`http://127.0.0.1:${tracker.addr.port}`)}`;
  const perPid = new Map<number, number>();
  const statuses = new Map<number, number>();
  let sent = 0;
  let overlaps = 0;
  const until = Date.now() + LOAD_MS;
  await Promise.all(Array.from({ length: 64 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      while (Date.now() < until && sent < LOAD_MAX_REQUESTS) {
        sent++;
        const { status, body } = await ask(conn, target);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status !== 200) continue;
        perPid.set(body.pid as number, (perPid.get(body.pid as number) ?? 0) + 1);
        if (body.overlap) overlaps++;
      }
    } finally {
      conn.close();
    }
  }));
  assert.deepEqual([...statuses], [[200, sent]], "every response is a 200");
  assert.ok(sent >= 64, `requests: ${sent}`);
  assert.equal(overlaps, 0, "never two invocations in one process");
  assert.ok(maxInFlight >= 1 && maxInFlight <= 4, `max in flight ${maxInFlight}`);
  assert.ok(perPid.size >= 1 && perPid.size <= 4, `processes: ${perPid.size}`);
  // Each process took a fair part of the work (FIFO hands the next request to whichever is free):
  // at least a sixteenth of the requests, a quarter of an even share.
  for (const [pid, served] of perPid) {
    assert.ok(served >= 2 && served >= sent / 16, `process ${pid} served ${served} of ${sent}`);
  }
  await lrp.stop();
  for (const pid of perPid.keys()) assert.equal(await alive(pid), false, `process ${pid} outlived lrp`);
});

Deno.test("a client that leaves while running or queued disturbs nothing after it", async () => {
  const path = await echoConfig(`    timeout: 10s
`);
  await using lrp = await startLrpChild([path]);
  const port = Number(new URL(lrp.url).port);
  const pid = JSON.parse((await request(port, "fn.test", "/")).text).pid;
  // Two clients that hang up: one running (sleeping 300 ms), one queued behind it.
  for (let i = 0; i < 2; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("GET /?sleep=300 HTTP/1.1\r\nHost: fn.test\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 50));
    conn.close();
  }
  const after = await request(port, "fn.test", "/after");
  assert.equal(after.status, 200);
  const body = JSON.parse(after.text);
  assert.equal(body.pid, pid, "the same warm process answers");
  assert.equal(body.path, "/after");
});

Deno.test("watch_code: editing the handler changes the next response without restarting lrp", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (text: string) =>
      Deno.writeTextFile(
        `${dir}/index.mjs`,
        `export const handler = async () => ({ statusCode: 200, body: "${text}" });\n`,
      );
    await write("version one");
    const path = await tempConfig(`host: 127.0.0.1\nport: 0\nfunctions:
  - hostname: fn.test
    runtime: nodejs
    handler: index.handler
    code: ${dir}
    watch_code: true
`);
    await using lrp = await startLrpChild([path]);
    const port = Number(new URL(lrp.url).port);
    assert.equal((await request(port, "fn.test", "/")).text, "version one");
    await write("version two");
    await lrp.waitForLine((l) => l.msg === "function code changed; restarting its runtime processes");
    assert.equal((await request(port, "fn.test", "/")).text, "version two");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("queue_limit: requests beyond the queue get 503 with Retry-After", async () => {
  const path = await echoConfig(`    queue_limit: 1
    timeout: 10s
`);
  await using lrp = await startLrpChild([path]);
  const port = Number(new URL(lrp.url).port);
  await request(port, "fn.test", "/");
  const head = "GET /?sleep=400 HTTP/1.1\r\nHost: fn.test";
  const [a, b, c] = await Promise.all([
    rawHttp(port, head),
    new Promise((r) => setTimeout(r, 100)).then(() => rawHttp(port, head)),
    new Promise((r) => setTimeout(r, 200)).then(() => request(port, "fn.test", "/")),
  ]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(c.status, 503);
  assert.equal(c.header("retry-after"), "1");
});

Deno.test("a SIGHUP reload restarts a function whose code changed, and keeps the warm process of one whose code did not", async () => {
  const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
  try {
    const write = (dir: string, text: string) =>
      Deno.writeTextFile(
        `${dir}/index.mjs`,
        `export const handler = async () => ({ statusCode: 200, body: "${text} " + process.pid });\n`,
      );
    await write(dirs[0]!, "one");
    await write(dirs[1]!, "same");
    const rule = (host: string, dir: string) =>
      `  - hostname: ${host}\n    runtime: nodejs\n    handler: index.handler\n    code: ${dir}\n`;
    const path = await tempConfig(
      `host: 127.0.0.1\nport: 0\nfunctions:\n${rule("a.test", dirs[0]!)}${rule("b.test", dirs[1]!)}`,
    );
    await using lrp = await startLrpChild([path]);
    const port = Number(new URL(lrp.url).port);
    const [a1, b1] = [(await request(port, "a.test", "/")).text, (await request(port, "b.test", "/")).text];
    assert.match(a1, /^one \d+$/);
    await write(dirs[0]!, "two");
    lrp.process.kill("SIGHUP");
    const restarted = await lrp.waitForLine((l) =>
      l.msg === "function code changed; restarting its runtime processes" && l.reason === "reload"
    );
    assert.equal(restarted.function, "a-test");
    await lrp.waitForLine((l) => l.msg === "configuration reloaded");
    assert.match((await request(port, "a.test", "/")).text, /^two \d+$/);
    assert.equal(
      (await request(port, "b.test", "/")).text,
      b1,
      "the unchanged function's process stays warm",
    );
    assert.equal(
      lrp.lines.filter((l) => l.msg === "function code changed; restarting its runtime processes").length,
      1,
    );
  } finally {
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mixed load (answers, console lines, throws, exits) on 32 connections: every client gets its own answer", async () => {
  const path = await echoConfig(`    concurrency: 4
    queue_limit: 64
    queue_timeout: 30s
`);
  await using lrp = await startLrpChild([path]);
  const port = Number(new URL(lrp.url).port);
  let sent = 0;
  const wrong: string[] = [];
  const until = Date.now() + 3_000;
  await Promise.all(Array.from({ length: 32 }, async (_, c) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      for (let i = 0; Date.now() < until && sent < 3_000; i++) {
        sent++;
        const target = i % 53 === 52 && c < 4
          ? "/exit"
          : i % 7 === 6
          ? "/throw"
          : i % 3 === 2
          ? "/log"
          : `/own-${c}-${i}`;
        const { status, body } = await ask(conn, target);
        const expected = target === "/exit" || target === "/throw" ? 502 : 200;
        if (status !== expected || (status === 200 && body.path !== target)) {
          wrong.push(`${target}: ${status} ${JSON.stringify(body).slice(0, 80)}`);
        }
      }
    } finally {
      conn.close();
    }
  }));
  assert.deepEqual(wrong, [], `of ${sent} requests`);
  assert.equal(lrp.lines.filter((l) => String(l.msg).startsWith("bug:")).length, 0);
});
