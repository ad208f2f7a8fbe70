/**
 * The lrp benchmark: `deno task bench` (about 8 minutes) or
 * `deno task bench --quick` (about a minute).
 *
 * Starts a fake backend (`bench/backend.ts`), nginx as a plain reverse proxy
 * to it, and lrp with a local (RIE) rule and, where lrp accepts it, an AWS
 * (Invoke API) rule pointed at the same backend. Then, in alternating rounds,
 * loads each system with wrk at 1, 16 and 64 connections and 0 B, 4 KB and
 * 1 MB request bodies, and prints the medians as one markdown table, the
 * README's targets with verdicts, and `bench/results/latest.json`.
 *
 * Flags: `--quick`, `--rounds N`, `--duration S`, `--lrp PATH/TO/main.ts`,
 * `--nginx-workers N|auto`, `--keep` (keep the temp dir with all logs).
 *
 * @module
 */

import { type LoadSample, type LoadTool, runLoad } from "./load.ts";
import {
  type Child,
  Children,
  firstLogLine,
  freePort,
  logTail,
  lrpConfig,
  type LrpRules,
  nginxConfig,
  procMemoryMb,
  procName,
  resetPeakRss,
  waitUntil,
} from "./procs.ts";
import {
  addRatios,
  type Cell,
  find,
  formatBytes,
  makeCell,
  markdownTable,
  markdownVerdicts,
  median,
  type SystemName,
  SYSTEMS,
  verdicts,
} from "./report.ts";
import { ensure, ensureLoadTool, versionOf } from "./tools.ts";

/** Settings of one bench run. */
export interface Options {
  quick: boolean;
  rounds: number;
  durationS: number;
  connections: number[];
  bodies: number[];
  lrpMain: string;
  nginxWorkers: string;
  startupReps: number;
  keep: boolean;
}

const LOCAL_HOST = "local.bench";
const AWS_HOST = "aws.bench";
const FUNCTION_NAME = "bench-fn";

/** Parses the command line; throws a `RangeError` on a bad flag. */
export function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const int = (flag: string, fallback: number): number => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Cannot parse ${flag}: ${raw}`);
    return n;
  };
  const known = new Set(["--quick", "--keep", "--rounds", "--duration", "--lrp", "--nginx-workers"]);
  for (const [i, arg] of args.entries()) {
    const prev = args[i - 1];
    const isValue = prev !== undefined &&
      ["--rounds", "--duration", "--lrp", "--nginx-workers"].includes(prev);
    if (!isValue && !known.has(arg)) throw new RangeError(`Cannot parse arguments: unknown flag ${arg}`);
  }
  return {
    quick,
    rounds: int("--rounds", quick ? 1 : 3),
    durationS: int("--duration", quick ? 1 : 4),
    connections: [1, 16, 64],
    bodies: [0, 4096, 1 << 20],
    lrpMain: value("--lrp") ?? new URL("../main.ts", import.meta.url).pathname,
    nginxWorkers: value("--nginx-workers") ?? "1",
    startupReps: quick ? 3 : 5,
    keep: args.includes("--keep"),
  };
}

/** A system under load: where to send requests, or why it cannot be measured. */
interface Target {
  url: string;
  host?: string;
  skipped?: string;
  /** The deno pid whose memory is read (lrp only). */
  pid?: number;
  child?: Child;
}

const log = (line: string) => console.error(line);
const errorText = (err: unknown) => err instanceof Error ? err.message : String(err);

/** Environment for lrp: the AWS SDK is pointed at the fake backend with dummy credentials. */
function lrpEnv(backendUrl: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_LAMBDA: backendUrl,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDBENCH",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_EC2_METADATA_DISABLED: "true",
    NO_COLOR: "1",
  };
}

/** Runs `lrp check <config>`; returns undefined when it exits 0, else the reason. */
async function lrpCheck(opts: Options, config: string, backendUrl: string): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", opts.lrpMain, "check", config],
      cwd: dirname(opts.lrpMain),
      env: lrpEnv(backendUrl),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (out.success) return undefined;
    const lines = (new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout)).trim().split(
      "\n",
    );
    const first = Math.max(0, lines.findIndex((line) => /error/i.test(line)));
    return `lrp check exited ${out.code}: ${lines.slice(first, first + 2).join(" | ").slice(0, 300)}`;
  } catch (err) {
    return `lrp check failed: ${errorText(err)}`;
  }
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/**
 * Spawns lrp on a free port and waits for the first successful request
 * through the local rule. Returns the child, its port, and the milliseconds
 * from spawn to that answer.
 */
async function startLrp(
  children: Children,
  opts: Options,
  tmp: string,
  name: string,
  rules: LrpRules,
  backendUrl: string,
): Promise<{ child: Child; port: number; ms: number }> {
  const port = freePort();
  const config = `${tmp}/${name}.yaml`;
  await Deno.writeTextFile(config, lrpConfig(port, rules));
  const start = performance.now();
  const child = children.spawn(name, Deno.execPath(), ["run", "--allow-all", opts.lrpMain, config], {
    cwd: dirname(opts.lrpMain),
    env: lrpEnv(backendUrl),
  });
  try {
    await waitUntil(child, port, "/", LOCAL_HOST, (r) => r.status === 200, 20_000, 1);
  } catch (err) {
    await children.stop(child);
    throw err;
  }
  return { child, port, ms: performance.now() - start };
}

/** Median start-up time over `reps` fresh lrp processes, after one untimed start that fills caches. */
async function measureStartup(
  children: Children,
  opts: Options,
  tmp: string,
  rules: LrpRules,
  backendUrl: string,
): Promise<{ medianMs: number; samplesMs: number[] }> {
  const samples: number[] = [];
  for (let i = 0; i <= opts.startupReps; i++) {
    const { child, ms } = await startLrp(children, opts, tmp, `lrp-startup-${i}`, rules, backendUrl);
    await children.stop(child);
    if (i > 0) samples.push(Math.round(ms * 10) / 10);
  }
  return { medianMs: median(samples), samplesMs: samples };
}

async function machineInfo(
  tool: LoadTool,
  nginx: string | undefined,
  opts: Options,
): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const git = async (dir: string) => (await versionOf("git", ["-C", dir, "rev-parse", "HEAD"])).slice(0, 40);
  return {
    date: new Date().toISOString(),
    nproc: navigator.hardwareConcurrency,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    memTotalMb: Math.round(Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0) / 1024),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    benchCommit: await git(dirname(new URL(import.meta.url).pathname)),
    lrpCommit: await git(dirname(opts.lrpMain)),
    loadTool: await versionOf(tool, tool === "wrk" ? ["-v"] : ["-h"]),
    nginx: nginx ? await versionOf(nginx, ["-v"]) : "not available",
  };
}

async function run(opts: Options, tmp: string, children: Children): Promise<void> {
  const tool = await ensureLoadTool();
  const nginxPath = await ensure("nginx", "nginx-light");
  const targets = new Map<SystemName, Target>();

  // The backend prints its URL as its first line.
  const backendPath = new URL("./backend.ts", import.meta.url).pathname;
  const backend = children.spawn("backend", Deno.execPath(), ["run", "-A", backendPath, "--port", "0"]);
  const backendUrl = await firstLogLine(backend, 30_000);
  const backendPort = Number(new URL(backendUrl).port);
  await waitUntil(backend, backendPort, "/", "127.0.0.1", (r) => r.status === 200, 10_000);
  targets.set("direct", { url: `${backendUrl}/` });
  log(`backend: ${backendUrl}`);

  if (nginxPath === undefined) {
    targets.set("nginx", { url: "", skipped: "nginx could not be installed" });
  } else {
    const port = freePort();
    const conf = `${tmp}/nginx.conf`;
    await Deno.writeTextFile(conf, nginxConfig(tmp, port, `127.0.0.1:${backendPort}`, opts.nginxWorkers));
    const nginx = children.spawn("nginx", nginxPath, [
      "-p",
      tmp,
      "-e",
      `${tmp}/nginx-error.log`,
      "-c",
      conf,
      "-g",
      "daemon off;",
    ]);
    try {
      await waitUntil(nginx, port, "/", "127.0.0.1", (r) => r.status === 200, 10_000);
      targets.set("nginx", { url: `http://127.0.0.1:${port}/` });
      log(`nginx: http://127.0.0.1:${port}/ (${opts.nginxWorkers} worker(s))`);
    } catch (err) {
      targets.set("nginx", { url: "", skipped: `nginx did not start: ${errorText(err)}` });
    }
  }

  // lrp: probe what it supports, measure start-up, then start the instance under load.
  const localRule = { hostname: LOCAL_HOST, endpoint: backendUrl };
  const awsRule = { hostname: AWS_HOST, function_name: FUNCTION_NAME };
  let startup: Record<string, unknown> = {};
  let startupLocalMs: number | undefined;
  let awsSkip: string | undefined;
  let lrpSkip: string | undefined;
  try {
    await Deno.stat(opts.lrpMain);
  } catch {
    lrpSkip = `lrp did not start: ${opts.lrpMain} not found (use --lrp PATH)`;
  }
  if (lrpSkip === undefined) {
    const probe = `${tmp}/lrp-check.yaml`;
    await Deno.writeTextFile(probe, lrpConfig(freePort(), { local: localRule, aws: awsRule }));
    awsSkip = await lrpCheck(opts, probe, backendUrl);
    if (awsSkip !== undefined) log(`lrp-aws skipped: ${awsSkip}`);
    try {
      const local = await measureStartup(children, opts, tmp, { local: localRule }, backendUrl);
      startupLocalMs = local.medianMs;
      startup = { localOnly: local };
      log(`start-up, local-only: ${local.medianMs.toFixed(1)} ms (median of ${local.samplesMs.length})`);
      if (awsSkip === undefined) {
        const both = await measureStartup(
          children,
          opts,
          tmp,
          { local: localRule, aws: awsRule },
          backendUrl,
        );
        startup = { ...startup, withAws: both };
        log(`start-up, local + aws rules: ${both.medianMs.toFixed(1)} ms`);
      }
    } catch (err) {
      lrpSkip = `lrp did not start: ${errorText(err)}`;
    }
  }
  if (lrpSkip === undefined) {
    try {
      const rules: LrpRules = awsSkip === undefined
        ? { local: localRule, aws: awsRule }
        : { local: localRule };
      const { child, port } = await startLrp(children, opts, tmp, "lrp", rules, backendUrl);
      const name = await procName(child.pid);
      if (name !== "deno") log(`warning: lrp pid ${child.pid} is "${name}", not deno: RSS may be wrong`);
      const url = `http://127.0.0.1:${port}/`;
      targets.set("lrp-local", { url, host: LOCAL_HOST, pid: child.pid, child });
      if (awsSkip === undefined) {
        try {
          await waitUntil(child, port, "/", AWS_HOST, (r) => r.status === 200, 10_000);
          targets.set("lrp-aws", { url, host: AWS_HOST, pid: child.pid, child });
        } catch (err) {
          awsSkip = `aws rule did not answer 200: ${errorText(err)}`;
        }
      }
      log(`lrp: ${url} (pid ${child.pid})`);
    } catch (err) {
      lrpSkip = `lrp did not start: ${errorText(err)}`;
    }
  }
  if (lrpSkip !== undefined) {
    log(`lrp skipped: ${lrpSkip}`);
    targets.set("lrp-local", { url: "", skipped: lrpSkip });
  }
  if (!targets.has("lrp-aws")) targets.set("lrp-aws", { url: "", skipped: lrpSkip ?? awsSkip ?? "unknown" });

  const live = SYSTEMS.filter((s) => targets.get(s)?.skipped === undefined);
  const samples = new Map<string, LoadSample[]>();
  const key = (s: SystemName, c: number, b: number) => `${s}|${c}|${b}`;
  const rss: Record<string, number> = {};
  let rssResettable = true;

  const load = async (system: SystemName, connections: number, bodyBytes: number, durationS: number) => {
    const target = targets.get(system)!;
    const spec = {
      url: target.url,
      connections,
      durationS,
      bodyBytes,
      ...(target.host ? { host: target.host } : {}),
    };
    const measureRss = target.pid !== undefined && connections === 64;
    if (measureRss) rssResettable = await resetPeakRss(target.pid!) && rssResettable;
    const sample = await runLoad(tool, spec, tmp);
    if (measureRss) {
      const peak = await procMemoryMb(target.pid!, "VmHWM");
      const k = `${system} ${formatBytes(bodyBytes)}`;
      if (peak !== undefined) rss[k] = Math.max(rss[k] ?? 0, peak);
    }
    if (target.child?.exited !== undefined) {
      throw new Error(`lrp exited during the bench: ${await logTail(target.child)}`);
    }
    return sample;
  };

  // Warm-up (JIT, connection pools), not recorded.
  for (const system of live) {
    await load(system, 16, 4096, opts.quick ? 1 : 2).catch((err) =>
      log(`warm-up ${system}: ${errorText(err)}`)
    );
  }

  for (let round = 0; round < opts.rounds; round++) {
    for (const connections of opts.connections) {
      for (const bodyBytes of opts.bodies) {
        // Rotate the order each round so that no system always runs first or last.
        const order = live.map((_, i) => live[(i + round) % live.length]!);
        for (const system of order) {
          if (targets.get(system)?.skipped !== undefined) continue;
          try {
            const sample = await load(system, connections, bodyBytes, opts.durationS);
            const list = samples.get(key(system, connections, bodyBytes)) ?? [];
            list.push(sample);
            samples.set(key(system, connections, bodyBytes), list);
            log(
              `[round ${round + 1}/${opts.rounds}] ${system} c=${connections} body=${
                formatBytes(bodyBytes)
              }: ` +
                `${Math.round(sample.rps)} req/s, p50 ${sample.p50Us} µs, p99 ${sample.p99Us} µs` +
                (sample.non2xx + sample.socketErrors > 0
                  ? `, ${sample.non2xx} non-2xx, ${sample.socketErrors} socket errors`
                  : ""),
            );
          } catch (err) {
            log(`${system} c=${connections} body=${formatBytes(bodyBytes)} failed: ${errorText(err)}`);
            if (system.startsWith("lrp") && /lrp exited/.test(errorText(err))) {
              for (const s of ["lrp-local", "lrp-aws"] as const) {
                targets.set(s, { url: "", skipped: errorText(err) });
              }
            }
          }
        }
      }
    }
  }

  const cells: Cell[] = [];
  for (const connections of opts.connections) {
    for (const bodyBytes of opts.bodies) {
      for (const system of SYSTEMS) {
        const list = samples.get(key(system, connections, bodyBytes)) ?? [];
        const skipped = targets.get(system)?.skipped ?? (list.length === 0 ? "every run failed" : undefined);
        cells.push(makeCell(system, connections, bodyBytes, list, skipped));
      }
    }
  }
  addRatios(cells);
  const rssValues = Object.values(rss);
  const peakRssMb = rssValues.length > 0 ? Math.max(...rssValues) : undefined;
  const list = verdicts(cells, { startupLocalMs, peakRssMb });

  const direct1 = find(cells, "direct", 1, 0);
  const serialized: Record<string, number> = {};
  for (const connections of opts.connections) {
    const lrp = find(cells, "lrp-local", connections, 0);
    if (lrp?.skipped === undefined && direct1?.skipped === undefined && lrp && direct1) {
      serialized[`c${connections}`] = lrp.rps / direct1.rps;
    }
  }

  const machine = await machineInfo(tool, nginxPath, opts);
  console.log(`## lrp bench — ${machine.date} — ${machine.cpuModel}, ${machine.nproc} cores\n`);
  console.log(
    `${opts.rounds} round(s) × ${opts.durationS} s per run, medians; ${tool} 1 thread; ` +
      `nginx ${opts.nginxWorkers} worker(s); 0 B = GET, larger = POST application/octet-stream.\n`,
  );
  console.log(markdownTable(cells));
  const reasons = [...targets].filter(([, t]) => t.skipped !== undefined);
  if (reasons.length > 0) console.log("");
  for (const [system, t] of reasons) console.log(`- ${system} skipped: ${t.skipped}`);
  console.log("\nlrp-local req/s ÷ backend serialized rate (direct, 1 conn, 0 B):");
  for (const [k, v] of Object.entries(serialized)) console.log(`- ${k}: ${v.toFixed(2)}×`);
  console.log(`\nstart-up to first proxied request: ${JSON.stringify(startup)}`);
  console.log(
    `lrp peak RSS (VmHWM${rssResettable ? ", reset before each run" : " since start"}) at 64 conns: ` +
      JSON.stringify(Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.round(v * 10) / 10]))),
  );
  console.log(`\n### Targets\n${markdownVerdicts(list)}`);

  const result = {
    machine,
    settings: {
      rounds: opts.rounds,
      durationS: opts.durationS,
      quick: opts.quick,
      nginxWorkers: opts.nginxWorkers,
      lrpMain: opts.lrpMain,
      loadTool: tool,
    },
    skipped: Object.fromEntries([...targets].filter(([, t]) => t.skipped).map(([s, t]) => [s, t.skipped])),
    cells,
    localVsSerializedBackend: serialized,
    startup,
    peakRssMb: { byRun: rss, max: peakRssMb, resetBeforeEachRun: rssResettable },
    targets: list,
  };
  const outDir = new URL("./results/", import.meta.url);
  await Deno.mkdir(outDir, { recursive: true });
  const outFile = new URL("latest.json", outDir);
  await Deno.writeTextFile(outFile, JSON.stringify(result, null, 2) + "\n");
  log(`wrote ${outFile.pathname}`);
}

if (import.meta.main) {
  const opts = parseOptions(Deno.args);
  const tmp = await Deno.makeTempDir({ prefix: "lrp-bench-" });
  const children = new Children(tmp);
  const onSignal = () => {
    log("interrupted: stopping children");
    children.stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let failed = false;
  try {
    await run(opts, tmp, children);
  } catch (err) {
    failed = true;
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : err}`);
  } finally {
    await children.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (opts.keep || failed) log(`logs kept in ${tmp}`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  Deno.exit(failed ? 1 : 0);
}
