/**
 * The functions bench (`deno task bench:functions`): lrp's `functions:` rule
 * (one Node.js handler answering a small JSON result, concurrency 4) side by
 * side, in one run, with serverless-offline@13 in its two modes
 * (`--useInProcess` and its default, worker threads) and a plain Node.js
 * HTTP server calling the same handler (the floor). Each system serves GET
 * at 1 and 16 connections; the figures are req/s, p50, CPU µs per request
 * over the system's whole process tree (lrp and its runtime processes), the
 * peak RSS of that tree, and the cold start from spawning the system to its
 * first answer. serverless-offline is installed by `bench/offline.ts`.
 *
 * @module
 */

import { V8_FLAGS } from "../scripts/compile.ts";
import { dirname } from "node:path";
import { runLoad } from "./load.ts";
import { ensureOffline, OFFLINE_DIR, OFFLINE_ENV, OFFLINE_SERVICE, OFFLINE_VERSIONS } from "./offline.ts";
import {
  type Child,
  type Children,
  clockTicksPerSecond,
  freePort,
  FUNCTION_HANDLER,
  lrpConfig,
  processTree,
  resetPeakRss,
  runWithChildren,
  settle,
  treeCpuTicks,
  treeMemoryMb,
  waitUntil,
} from "./procs.ts";
import { median } from "./report.ts";
import { which } from "./tools.ts";

const FN_HOST = "fn.bench";
const POINTS = [1, 16] as const;

/** Targets of issue 24, judged on this run's medians. */
const TARGETS = {
  rpsVsInProcess: 1.2,
  cpuUs: 300,
  p50Us: 400,
  coldMs: 250,
};

interface Options {
  rounds: number;
  durationS: number;
  lrpMain: string;
  /** Another lrp (e.g. main's) measured beside, as `lrp-base`. */
  baseMain: string | undefined;
  keep: boolean;
  /** Only these systems (`--only lrp,offline-inprocess`); all when unset. */
  only: Set<string> | undefined;
}

function parseOptions(args: string[]): Options {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const quick = args.includes("--quick");
  const only = value("--only");
  const int = (flag: string, fallback: number) => {
    const raw = value(flag);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Cannot parse ${flag}: ${raw}`);
    return n;
  };
  return {
    rounds: int("--rounds", quick ? 1 : 3),
    durationS: int("--duration", quick ? 1 : 3),
    lrpMain: value("--lrp") ?? new URL("../main.ts", import.meta.url).pathname,
    baseMain: value("--base"),
    keep: args.includes("--keep"),
    only: only === undefined ? undefined : new Set(only.split(",").map((name) => name.trim())),
  };
}

function log(line: string): void {
  console.error(`[bench:functions] ${line}`);
}

interface System {
  name: string;
  label: string;
  child: Child;
  url: string;
  host: string;
  coldMs: number;
}

interface Sample {
  rps: number;
  p50Us: number;
  cpuUs: number | undefined;
  hwmMb: number | undefined;
  errors: number;
}

/** Spawns a system and times spawn → first `200 ok` (polled every 1 ms over fresh connections). */
async function start(
  children: Children,
  name: string,
  cmd: string,
  args: string[],
  port: number,
  host: string,
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ child: Child; coldMs: number }> {
  const t0 = performance.now();
  const child = children.spawn(name, cmd, args, { cwd, env: { ...Deno.env.toObject(), ...env } });
  try {
    await waitUntil(child, port, "/", host, (r) => r.status === 200 && r.body === "ok", 60_000, 1);
  } catch (err) {
    await children.stop(child);
    throw err;
  }
  return { child, coldMs: Math.round((performance.now() - t0) * 10) / 10 };
}

async function startLrp(children: Children, name: string, main: string, tmp: string, code: string) {
  const port = freePort();
  const config = `${tmp}/${name}.yaml`;
  await Deno.writeTextFile(
    config,
    lrpConfig(port, { functions: [{ hostname: FN_HOST, code, concurrency: 4 }] }),
  );
  const args = [
    "run",
    "--allow-all",
    "--unstable-no-legacy-abort",
    V8_FLAGS,
    main,
    config,
  ];
  // One untimed start fills Deno's caches, as `lrp` runs after its first use; then the median of 3 starts
  // (a single start swings by 100 ms on a shared machine), the last one kept running.
  const warm = await start(children, `${name}-cache`, Deno.execPath(), args, port, FN_HOST, dirname(main));
  await children.stop(warm.child);
  const colds: number[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await start(children, `${name}-cold${i}`, Deno.execPath(), args, port, FN_HOST, dirname(main));
    colds.push(s.coldMs);
    await children.stop(s.child);
  }
  const s = await start(children, name, Deno.execPath(), args, port, FN_HOST, dirname(main));
  colds.push(s.coldMs);
  return { ...s, coldMs: median(colds), url: `http://127.0.0.1:${port}/`, host: FN_HOST };
}

async function startOffline(children: Children, name: string, tmp: string, inProcess: boolean) {
  const cli = await ensureOffline(log);
  const dir = `${tmp}/${name}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/serverless.yml`, OFFLINE_SERVICE);
  await Deno.writeTextFile(`${dir}/index.mjs`, FUNCTION_HANDLER);
  await Deno.symlink(`${OFFLINE_DIR}node_modules`, `${dir}/node_modules`);
  const port = freePort();
  const args = [cli, "offline", "start", "--httpPort", String(port), "--lambdaPort", String(freePort())];
  if (inProcess) args.push("--useInProcess");
  const s = await start(children, name, "node", args, port, "127.0.0.1", dir, OFFLINE_ENV);
  return { ...s, url: `http://127.0.0.1:${port}/`, host: "127.0.0.1" };
}

/** A plain Node.js HTTP server calling the handler with a minimal event: what the handler itself costs. */
const PLAIN_SERVER = `import http from "node:http";
import { handler } from "./index.mjs";
const server = http.createServer(async (req, res) => {
  const r = await handler({ rawPath: req.url, headers: req.headers, requestContext: { http: { method: req.method } } }, {});
  res.writeHead(r.statusCode, { ...r.headers, "content-length": Buffer.byteLength(r.body) });
  res.end(r.body);
});
server.listen(Number(process.argv[2]), "127.0.0.1");
`;

async function startPlain(children: Children, tmp: string) {
  const dir = `${tmp}/plain`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/index.mjs`, FUNCTION_HANDLER);
  await Deno.writeTextFile(`${dir}/server.mjs`, PLAIN_SERVER);
  const port = freePort();
  const s = await start(children, "node-plain", "node", ["server.mjs", String(port)], port, "127.0.0.1", dir);
  return { ...s, url: `http://127.0.0.1:${port}/`, host: "127.0.0.1" };
}

async function measure(
  system: System,
  connections: number,
  durationS: number,
  tmp: string,
  ticks: number,
): Promise<Sample> {
  const tree = await processTree(system.child.pid);
  for (const pid of tree) await resetPeakRss(pid);
  const before = await treeCpuTicks(system.child.pid);
  const s = await runLoad(
    "wrk",
    { url: system.url, host: system.host, connections, durationS, bodyBytes: 0 },
    tmp,
  );
  const after = await treeCpuTicks(system.child.pid);
  const hwm = await treeMemoryMb(await processTree(system.child.pid), "VmHWM");
  await settle(system.child.pid);
  const cpuUs = before !== undefined && after !== undefined && s.requests >= 10 * connections
    ? ((after - before) / ticks) * 1e6 / s.requests
    : undefined;
  return { rps: s.rps, p50Us: s.p50Us, cpuUs, hwmMb: hwm, errors: s.non2xx + s.socketErrors };
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || Number.isNaN(n)
    ? "–"
    : n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function run(opts: Options, tmp: string, children: Children): Promise<void> {
  if (await which("wrk") === undefined) throw new Error("wrk is needed: apt-get install -y wrk");
  const ticks = await clockTicksPerSecond();
  const loadStart = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  const code = `${tmp}/code`;
  await Deno.mkdir(code, { recursive: true });
  await Deno.writeTextFile(`${code}/index.mjs`, FUNCTION_HANDLER);

  const systems: System[] = [];
  const skipped: string[] = [];
  const attempt = async (name: string, label: string, fn: () => Promise<Omit<System, "name" | "label">>) => {
    if (opts.only !== undefined && !opts.only.has(name)) return;
    log(`starting ${name}`);
    try {
      const s = await fn();
      systems.push({ name, label, ...s });
      log(`${name}: cold start ${s.coldMs} ms`);
    } catch (err) {
      skipped.push(`${name}: ${err instanceof Error ? err.message : err}`);
      log(`${name} skipped: ${err instanceof Error ? err.message : err}`);
    }
  };
  await attempt(
    "lrp",
    "lrp `functions:`, concurrency 4",
    () => startLrp(children, "lrp", opts.lrpMain, tmp, code),
  );
  if (opts.baseMain !== undefined) {
    const base = opts.baseMain;
    await attempt("lrp-base", `lrp at ${base}`, () => startLrp(children, "lrp-base", base, tmp, code));
  }
  const so = `serverless-offline ${OFFLINE_VERSIONS["serverless-offline"]}`;
  await attempt(
    "offline-inprocess",
    `${so} \`--useInProcess\``,
    () => startOffline(children, "offline-inprocess", tmp, true),
  );
  await attempt(
    "offline-workers",
    `${so} (worker threads, its default)`,
    () => startOffline(children, "offline-workers", tmp, false),
  );
  await attempt(
    "node-plain",
    "plain Node.js HTTP server calling the handler",
    () => startPlain(children, tmp),
  );

  for (const s of systems) await measure(s, 16, 1, tmp, ticks); // warm-up (JIT, runtime processes), not kept
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < opts.rounds; round++) {
    for (const c of POINTS) {
      const order = systems.map((_, i) => systems[(i + round) % systems.length]!);
      for (const s of order) {
        const sample = await measure(s, c, opts.durationS, tmp, ticks);
        samples.set(`${s.name}|${c}`, [...samples.get(`${s.name}|${c}`) ?? [], sample]);
        log(
          `[round ${round + 1}/${opts.rounds}] ${s.name} c=${c}: ${Math.round(sample.rps)} req/s, ` +
            `p50 ${sample.p50Us} µs, CPU ${fmt(sample.cpuUs)} µs/req, peak RSS ${fmt(sample.hwmMb)} MB` +
            (sample.errors > 0 ? `, ${sample.errors} errors` : ""),
        );
        if (s.child.exited !== undefined) throw new Error(`${s.name} exited during the bench`);
      }
    }
  }
  const med = (name: string, c: number, f: (s: Sample) => number | undefined) => {
    const values = (samples.get(`${name}|${c}`) ?? []).map(f).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  const rows = systems.map((s) => ({
    name: s.name,
    label: s.label,
    rps1: med(s.name, 1, (x) => x.rps),
    p50: med(s.name, 1, (x) => x.p50Us),
    rps16: med(s.name, 16, (x) => x.rps),
    cpu16: med(s.name, 16, (x) => x.cpuUs),
    cpu1: med(s.name, 1, (x) => x.cpuUs),
    hwm: Math.max(...[1, 16].flatMap((c) => (samples.get(`${s.name}|${c}`) ?? []).map((x) => x.hwmMb ?? 0))),
    coldMs: s.coldMs,
    errors: [1, 16].flatMap((c) => samples.get(`${s.name}|${c}`) ?? []).reduce((n, x) => n + x.errors, 0),
  }));
  const loadEnd = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
  console.log(`## lrp functions bench — ${new Date().toISOString()}\n`);
  console.log(
    `${opts.rounds} round(s) × ${opts.durationS} s per point, medians; wrk 1 thread, GET; load average ` +
      `${loadStart} → ${loadEnd} on ${navigator.hardwareConcurrency} cores. CPU: utime+stime of the system's ` +
      `process tree ÷ requests; peak RSS: VmHWM summed over the tree, highest of the runs; cold start: spawn → ` +
      `first answer (lrp: median of 3 starts; serverless-offline: one).\n`,
  );
  console.log(
    "| system | req/s c=1 | p50 c=1 | req/s c=16 | CPU µs/req c=1 | CPU µs/req c=16 | peak RSS | cold start | errors |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${fmt(r.rps1)} | ${fmt(r.p50 === undefined ? undefined : r.p50 / 1000, 2)} ms | ` +
        `${fmt(r.rps16)} | ${fmt(r.cpu1)} | ${fmt(r.cpu16)} | ${fmt(r.hwm)} MiB | ${
          fmt(r.coldMs)
        } ms | ${r.errors} |`,
    );
  }
  if (skipped.length > 0) console.log(`\nNot measured:\n${skipped.map((s) => `- ${s}`).join("\n")}`);
  const lrp = rows.find((r) => r.name === "lrp");
  const inproc = rows.find((r) => r.name === "offline-inprocess");
  const verdict = (ok: boolean | undefined) => ok === undefined ? "n/a" : ok ? "PASS" : "FAIL";
  const ratio = lrp?.rps16 !== undefined && inproc?.rps16 !== undefined
    ? lrp.rps16 / inproc.rps16
    : undefined;
  const targets = [
    [
      `req/s c=16 ≥ ${TARGETS.rpsVsInProcess} × serverless-offline --useInProcess`,
      `${fmt(ratio, 2)}×`,
      verdict(ratio === undefined ? undefined : ratio >= TARGETS.rpsVsInProcess),
    ],
    [
      `CPU ≤ ${TARGETS.cpuUs} µs/request (c=16)`,
      fmt(lrp?.cpu16),
      verdict(lrp?.cpu16 === undefined ? undefined : lrp.cpu16 <= TARGETS.cpuUs),
    ],
    [
      `p50 c=1 ≤ ${TARGETS.p50Us / 1000} ms`,
      `${fmt(lrp?.p50 === undefined ? undefined : lrp.p50 / 1000, 2)} ms`,
      verdict(lrp?.p50 === undefined ? undefined : lrp.p50 <= TARGETS.p50Us),
    ],
    [
      `cold start ≤ ${TARGETS.coldMs} ms`,
      `${fmt(lrp?.coldMs)} ms`,
      verdict(lrp === undefined ? undefined : lrp.coldMs <= TARGETS.coldMs),
    ],
  ];
  console.log("\n### Targets (issue 24)\n\n| target | lrp | verdict |\n| --- | ---: | --- |");
  for (const t of targets) console.log(`| ${t.join(" | ")} |`);
  const outDir = new URL("./results/", import.meta.url);
  await Deno.mkdir(outDir, { recursive: true });
  const out = new URL("functions.json", outDir);
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        loadAverage: [loadStart, loadEnd],
        settings: { ...opts, versions: OFFLINE_VERSIONS },
        rows,
        skipped,
        samples: Object.fromEntries(samples),
        targets,
      },
      null,
      2,
    ) + "\n",
  );
  log(`wrote ${out.pathname}`);
}

if (import.meta.main) {
  const opts = parseOptions(Deno.args);
  await runWithChildren("lrp-bench-fn-", opts.keep, log, (tmp, children) => run(opts, tmp, children));
}
