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

Deno.test("createBufferedSink() completes partial writes and drops lines past its limit", async () => {
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
  sink.write("12345"); // queued (6 bytes)
  sink.write("6789"); // queued (11 bytes, over the limit now)
  sink.write("dropped");
  assert.equal(sink.dropped, 1);
  release();
  await sink.flush();
  assert.equal(out.join(""), "12345\n6789\n");
});
