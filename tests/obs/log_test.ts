import assert from "node:assert/strict";
import { createBufferedSink, createLogger } from "../../lib/obs/log.ts";

Deno.test("createLogger() writes JSON lines at its level and above", () => {
  const lines: string[] = [];
  const log = createLogger("warn", (l) => lines.push(l));
  log.info("hidden");
  log.warn("shown", { a: 1 });
  assert.equal(lines.length, 1);
  const { time, ...rest } = JSON.parse(lines[0]!);
  assert.match(time, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(rest, { level: "warn", msg: "shown", a: 1 });
  assert.equal(log.enabled("error"), true);
  assert.equal(log.enabled("debug"), false);
});

Deno.test("createBufferedSink() batches lines into one write, in order, and flushes", async () => {
  const writes: string[] = [];
  const sink = createBufferedSink({
    write(p) {
      writes.push(new TextDecoder().decode(p));
      return Promise.resolve(p.length);
    },
  });
  sink.write("a");
  sink.write("b");
  await sink.flush();
  sink.write("c");
  await sink.flush();
  assert.deepEqual(writes, ["a\nb\n", "c\n"]);
});

Deno.test("createBufferedSink() completes partial writes, never drops lrp's own lines, and drops output lines past its limit with a counted warning", async () => {
  const out: string[] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => release = r);
  const sink = createBufferedSink({
    async write(p) {
      await gate;
      out.push(new TextDecoder().decode(p.subarray(0, 2)));
      return Math.min(2, p.length);
    },
  }, 8);
  sink.offer("12345"); // queued (6 bytes)
  sink.offer("6789"); // queued (11 bytes, over the limit now)
  sink.offer("dropped");
  sink.offer("dropped too");
  sink.write("own line"); // lrp's own: kept however far behind
  assert.equal(sink.dropped, 2);
  release();
  await sink.flush();
  const lines = out.join("").split("\n");
  assert.deepEqual(lines.slice(0, 3), ["12345", "6789", "own line"]);
  const warning = JSON.parse(lines[3]!);
  assert.deepEqual({ ...warning, time: "" }, {
    time: "",
    level: "warn",
    msg: "2 function output lines dropped: lrp's log writer fell behind",
    dropped: 2,
    droppedTotal: 2,
  });
  assert.equal(lines.length, 5);
});

Deno.test("createBufferedSink() with a delay collects lines of separate turns into one write; flush() writes at once", async () => {
  const writes: string[] = [];
  const sink = createBufferedSink(
    {
      write(p) {
        writes.push(new TextDecoder().decode(p));
        return Promise.resolve(p.length);
      },
    },
    undefined,
    60_000,
  );
  sink.write("a");
  await new Promise((r) => setTimeout(r, 0));
  sink.write("b");
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(writes, []);
  await sink.flush();
  assert.deepEqual(writes, ["a\nb\n"]);
});

Deno.test("createLogger() lines keep their keys in order: time, level, msg, then the fields", () => {
  const lines: string[] = [];
  const log = createLogger("info", (l) => lines.push(l));
  log.info('say "hi"', { n: 1, s: "x" });
  log.info("bare");
  log.info("empty", {});
  log.warn("clash", { msg: "field wins" });
  const parsed = lines.map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(parsed[0]), ["time", "level", "msg", "n", "s"]);
  assert.deepEqual({ ...parsed[0], time: 0 }, { time: 0, level: "info", msg: 'say "hi"', n: 1, s: "x" });
  assert.deepEqual({ ...parsed[1], time: 0 }, { time: 0, level: "info", msg: "bare" });
  assert.deepEqual({ ...parsed[2], time: 0 }, { time: 0, level: "info", msg: "empty" });
  assert.equal(parsed[3].msg, "field wins");
  for (const p of parsed) assert.match(p.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});
