/**
 * Measures the inspector's memory bound: a real lrp child (`deno run
 * main.ts`) in front of the tests' fake RIE on loopback receives N requests with
 * 1 MB bodies, with the inspector on and then off; lrp's VmRSS and VmHWM
 * (from `/proc/PID/status`) are printed for both, beside the ring's body
 * budget (`inspect_buffer × 4 × inspect_body_limit`).
 *
 * ```sh
 * deno run -A bench/inspect_memory.ts            # 10,000 requests
 * deno run -A bench/inspect_memory.ts 2000       # fewer
 * deno run -A bench/inspect_memory.ts 10000 on   # only with the inspector on (or off)
 * ```
 *
 * @module
 */

import { fakeRie } from "../tests/fakes/rie.ts";
import { procMemoryMb } from "./procs.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const BODY = new Uint8Array(1024 * 1024).fill(0x61);
const CONNECTIONS = 4;

async function startLrp(config: string): Promise<{ child: Deno.ChildProcess; port: number }> {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(path, config);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, path],
    env: { NO_COLOR: "1", LRP_LOG_LEVEL: "warn" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const port = Number(/port: (\d+)/.exec(config)![1]);
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ping`);
      await res.body?.cancel();
      if (res.ok) return { child, port };
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("Cannot start lrp: it never answered /ping");
}

async function run(inspect: boolean, requests: number, rieUrl: string, port: number) {
  const config = `host: 127.0.0.1\nport: ${port}\ninspect: ${inspect}\ninspect_buffer: 200\n` +
    `inspect_body_limit: 64KB\nlocal:\n  - hostname: 127.0.0.1\n    endpoint: ${rieUrl}\n` +
    `    concurrency: ${CONNECTIONS}\n`;
  const { child } = await startLrp(config);
  const before = await procMemoryMb(child.pid, "VmRSS");
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < requests) {
      next++;
      const res = await fetch(`http://127.0.0.1:${port}/upload`, { method: "POST", body: BODY });
      if (res.status !== 200) failed++;
      await res.arrayBuffer();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const after = await procMemoryMb(child.pid, "VmRSS");
  const peak = await procMemoryMb(child.pid, "VmHWM");
  child.kill("SIGTERM");
  await child.status;
  return { inspect, requests, failed, seconds: Math.round(seconds), before, after, peak };
}

if (import.meta.main) {
  const requests = Number(Deno.args[0] ?? 10_000);
  // Invocations side by side: lrp sends up to CONNECTIONS at once.
  const rie = fakeRie(() => ({ statusCode: 200, body: "ok" }));
  const rieUrl = rie.url;
  const budgetMb = (200 * 4 * 64 * 1024) / (1024 * 1024);
  console.log(`ring body budget: ${budgetMb} MB (200 exchanges × 4 × 64 KB)`);
  const modes = Deno.args[1] === "on" ? [true] : Deno.args[1] === "off" ? [false] : [true, false];
  for (const inspect of modes) {
    const r = await run(inspect, requests, rieUrl, 18000 + Math.floor(Math.random() * 2000));
    console.log(
      `inspect ${inspect ? "on " : "off"}: ${r.requests} × 1 MB in ${r.seconds} s, ${r.failed} failed; ` +
        `VmRSS ${r.before} MB → ${r.after} MB, VmHWM ${r.peak} MB`,
    );
  }
  await rie.shutdown();
}
