import assert from "node:assert/strict";
import { startRie } from "../fakes/rie.ts";
import { alive, type LrpChild, ROOT, startLrpChild, tempConfig, waitFor } from "../helpers/process.ts";
import { request } from "../helpers/socket.ts";

/**
 * The fake RIE with invocations allowed side by side, so that
 * `stats.maxConcurrent` records how many ran at once; each answers once `gate` lets it.
 */
function recordingRie(gate: () => Promise<void> = () => Promise.resolve()) {
  return startRie({
    onConcurrent: "allow",
    handler: async () => {
      // Long enough for a second invocation to arrive meanwhile if the queue let it through.
      await new Promise((r) => setTimeout(r, 5));
      await gate();
      return { statusCode: 200, headers: { "content-type": "text/plain" }, body: "ok" };
    },
  });
}

const configText = (endpoint: string, concurrency: number, hosts = ["a.test"]) =>
  `host: 127.0.0.1\nport: 0\nlog_level: info\nlocal:\n${
    hosts.map((h) => `  - hostname: ${h}\n    endpoint: ${endpoint}\n    concurrency: ${concurrency}\n`).join(
      "",
    )
  }`;

/** Starts lrp with two workers on `config` and waits until both serve. */
async function twoWorkers(config: string): Promise<LrpChild & { port: number; pids: number[] }> {
  const lrp = await startLrpChild(["--workers", "2", config]);
  try {
    const ready = await lrp.waitForLine((l) => l.msg === "workers ready");
    return Object.assign(lrp, { port: Number(ready.port), pids: ready.pids as number[] });
  } catch (err) {
    await lrp.stop();
    throw err;
  }
}

/** Worker ids of the access-log lines of `route`. */
const servedBy = (lrp: LrpChild, route: string) =>
  lrp.lines.filter((l) => l.msg === "request" && l.host === route).map((l) => l.worker as number);

/** Sends requests on fresh connections until both workers have answered one; returns how many were sent. */
async function untilBothServed(lrp: LrpChild & { port: number }, host: string): Promise<number> {
  const before = servedBy(lrp, host).length;
  for (let sent = 1; sent <= 200; sent++) {
    const res = await request(lrp.port, host, "/");
    assert.equal(res.status, 200);
    await lrp.waitForLine(() => servedBy(lrp, host).length >= before + sent);
    if (new Set(servedBy(lrp, host).slice(before)).size === 2) return sent;
  }
  throw new Error("200 connections all landed on one worker");
}

/** The value of the sample `series` (name and labels as rendered) in a scrape. */
function sample(scrape: string, series: string): number | undefined {
  const line = scrape.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(port: number): Promise<string> {
  const res = await request(port, "127.0.0.1", "/metrics");
  assert.equal(res.status, 200);
  return res.text;
}

Deno.test({
  name: "two workers both serve, their logs carry the worker id, and one scrape counts the requests of both",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using rie = recordingRie();
    const config = await tempConfig(configText(rie.url, 4));
    await using lrp = await twoWorkers(config);
    const sent = await untilBothServed(lrp, "a.test");
    const text = await scrape(lrp.port);
    const by = servedBy(lrp, "a.test");
    for (const w of [1, 2]) {
      assert.equal(
        sample(text, `lrp_requests_total{worker="${w}",route="a.test",code="2xx"}`),
        by.filter((x) => x === w).length,
      );
      assert.equal(sample(text, `lrp_build_info{worker="${w}",version="0.1.0"}`), 1);
    }
    assert.equal(by.length, sent);
    assert.equal(sample(text, "lrp_workers"), 2);
    assert.equal(sample(text, "lrp_worker_restarts_total"), undefined);
    assert.equal(text.split("\n").filter((l) => l === "# TYPE lrp_requests_total counter").length, 1);
    assert.equal(rie.invocations, sent);
  },
});

Deno.test({
  name: "a local rule with concurrency 1 never overlaps at the RIE across two workers",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using rie = recordingRie();
    const config = await tempConfig(configText(rie.url, 1, ["a.test", "b.test"]));
    await using lrp = await twoWorkers(config);
    let sent = 0;
    // Concurrent batches on fresh connections, over both rules of the one endpoint, until both workers took part.
    while (new Set([...servedBy(lrp, "a.test"), ...servedBy(lrp, "b.test")]).size < 2 && sent < 160) {
      const batch = await Promise.all(
        Array.from({ length: 16 }, (_, i) => request(lrp.port, i % 2 ? "a.test" : "b.test", "/")),
      );
      assert.deepEqual(batch.map((r) => r.status), Array(16).fill(200));
      sent += 16;
      await lrp.waitForLine(() => servedBy(lrp, "a.test").length + servedBy(lrp, "b.test").length === sent);
    }
    assert.equal(new Set([...servedBy(lrp, "a.test"), ...servedBy(lrp, "b.test")]).size, 2);
    assert.equal(rie.invocations, sent);
    assert.equal(rie.stats.maxConcurrent, 1);
  },
});

Deno.test({
  name: "a killed worker is restarted with the same id and requests keep being served",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using rie = recordingRie();
    const config = await tempConfig(configText(rie.url, 4));
    await using lrp = await twoWorkers(config);
    const [, second] = lrp.pids;
    Deno.kill(second!, "SIGKILL");
    const crash = await lrp.waitForLine((l) => l.msg === "worker exited unexpectedly; restarting");
    assert.deepEqual([crash.worker, crash.child, crash.pid, crash.exit], [0, 2, second, "signal SIGKILL"]);
    const restarted = await lrp.waitForLine((l) =>
      l.msg === "worker started" && l.child === 2 && l.pid !== second
    );
    await lrp.waitForLine((l) => l.msg === "lrp listening" && l.worker === 2 && l.time! >= restarted.time!);
    assert.equal(await alive(second!), false);
    for (let i = 0; i < 8; i++) assert.equal((await request(lrp.port, "a.test", "/")).status, 200);
    await untilBothServed(lrp, "a.test");
    const text = await scrape(lrp.port);
    assert.equal(sample(text, "lrp_worker_restarts_total"), 1);
    assert.equal(sample(text, "lrp_workers"), 2);
  },
});

Deno.test({
  name: "SIGHUP to the supervisor reloads every worker",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using rie = recordingRie();
    const config = await tempConfig(configText(rie.url, 4));
    await using lrp = await twoWorkers(config);
    assert.equal((await request(lrp.port, "b.test", "/")).status, 404);
    await Deno.writeTextFile(config, configText(rie.url, 4, ["a.test", "b.test"]));
    lrp.process.kill("SIGHUP");
    for (const w of [1, 2]) {
      await lrp.waitForLine((l) => l.msg === "configuration reloaded" && l.worker === w);
    }
    await untilBothServed(lrp, "b.test");
    const text = await scrape(lrp.port);
    for (const w of [1, 2]) {
      assert.equal(sample(text, `lrp_config_reloads_total{worker="${w}",result="ok"}`), 1);
    }
  },
});

Deno.test({
  name: "SIGTERM drains an in-flight request on each worker, then exits 0 leaving no worker behind",
  ignore: Deno.build.os !== "linux",
  async fn() {
    let open!: () => void;
    const gate = new Promise<void>((r) => open = r);
    await using rie = recordingRie(() => gate);
    // Whatever fails below, the fake RIE's held handlers must be released, or its shutdown never ends.
    using _release = { [Symbol.dispose]: () => open() };
    const config = await tempConfig(configText(rie.url, 8));
    await using lrp = await twoWorkers(config);
    const inFlight: ReturnType<typeof request>[] = [];
    // Held requests on fresh connections until each worker holds at least one slot.
    for (;;) {
      inFlight.push(request(lrp.port, "a.test", "/"));
      while (rie.invocations < inFlight.length) await new Promise((r) => setTimeout(r, 10));
      const text = await scrape(lrp.port);
      const held = [1, 2].map((w) => sample(text, `lrp_queue_in_flight{worker="${w}",route="a.test"}`) ?? 0);
      if (held.every((n) => n > 0)) break;
      assert.ok(inFlight.length < 8, `8 held requests all on one worker: ${held}`);
    }
    lrp.process.kill("SIGTERM");
    for (const w of [1, 2]) {
      await lrp.waitForLine((l) => l.msg === "shutting down" && l.worker === w && l.signal === "SIGTERM");
    }
    open();
    const answers = await Promise.all(inFlight);
    assert.deepEqual(answers.map((r) => [r.status, r.text]), inFlight.map(() => [200, "ok"]));
    const status = await lrp.stop();
    assert.equal(status.code, 0);
    for (const pid of lrp.pids) assert.equal(await alive(pid), false, `worker ${pid} still runs`);
    assert.equal(lrp.lines.filter((l) => l.msg === "worker exited" && l.exit === "code 0").length, 2);
  },
});

Deno.test({
  name: "workers drain and exit when their supervisor is killed outright",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using rie = recordingRie();
    const config = await tempConfig(configText(rie.url, 4));
    await using lrp = await twoWorkers(config);
    lrp.process.kill("SIGKILL");
    for (const w of [1, 2]) {
      await lrp.waitForLine((l) => l.msg === "shutting down" && l.worker === w && l.signal === "SIGTERM");
    }
    const status = await lrp.stop();
    assert.equal(status.signal, "SIGKILL");
    // stop() also waited for the end of stderr, which the workers held open until they exited.
    for (const pid of lrp.pids) {
      assert.equal(await alive(pid), false, `worker ${pid} outlived its supervisor`);
    }
  },
});

Deno.test({
  name: "deno run <URL of main.ts> --workers 2 starts its workers from the same URL",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // The repository over HTTP, as raw.githubusercontent.com would serve it.
    await using repo = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      try {
        return new Response(await Deno.readFile(`${ROOT}${path.slice(1)}`), {
          headers: { "content-type": path.endsWith(".json") ? "application/json" : "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    });
    const base = `http://127.0.0.1:${repo.addr.port}/`;
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/lrp.yaml`, "host: 127.0.0.1\nport: 0\n");
      await using lrp = await startLrpChild(["--workers", "2", "lrp.yaml"], {
        entry: `${base}main.ts`,
        cwd: dir,
        denoArgs: ["-A", "--no-config", "--no-lock", `--reload=${base}`],
      });
      const ready = await lrp.waitForLine((l) => l.msg === "workers ready");
      assert.equal((await request(Number(ready.port), "127.0.0.1", "/ping")).text, "pong");
      // Each worker's lines reach the supervisor in batches, so its "lrp listening" may still be on the way.
      const listening = () => lrp.lines.filter((l) => l.msg === "lrp listening").length;
      await waitFor("both workers' lrp listening lines", () => listening() >= 2 || undefined).catch(() => {});
      assert.equal(listening(), 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
