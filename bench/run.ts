/**
 * The lrp benchmark: `deno task bench` (about 4–5 minutes on 2 cores) or
 * `deno task bench --quick` (about a minute).
 *
 * Starts a fake backend (`bench/backend.ts`) and, in front of it, nginx as a
 * plain reverse proxy, two Deno baselines that are not lrp
 * (`bench/baselines/fetch_proxy.ts`, `bench/baselines/lean_proxy.ts`, the
 * latter also with `--sign`), and lrp with a local (RIE) rule and an AWS
 * (Invoke API) rule. Where lrp supports them (probed through `--help` and
 * `lrp check`, so new rows appear on their own once lrp has the feature), also
 * lrp with `--workers 2`, with `--inspect`, and with `functions:` rules.
 * Then, in rounds whose system order rotates, loads each system with wrk at
 * 1 connection and 64 connections (0 B, and 1 MB request bodies), reading
 * around each run the CPU time and memory of the system's own processes from
 * `/proc`. Prints one summary table, every load point, the targets with
 * verdicts, and writes `bench/results/latest.json`.
 *
 * Flags: `--quick`, `--rounds N`, `--duration S`, `--lrp PATH/TO/main.ts`,
 * `--nginx-workers N|auto`, `--keep` (keep the temp dir with all logs).
 *
 * @module
 */

import { V8_FLAGS } from "../scripts/compile.ts";
import { type LoadTool, runLoad } from "./load.ts";
import {
  type Child,
  type Children,
  clockTicksPerSecond,
  firstLogLine,
  freePort,
  FUNCTION_HANDLER,
  helpFlags,
  logTail,
  lrpConfig,
  type LrpRules,
  nginxConfig,
  processTree,
  procName,
  rawGet,
  resetPeakRss,
  runWithChildren,
  settle,
  treeCpuTicks,
  treeMemoryMb,
  waitUntil,
} from "./procs.ts";
import {
  addRatios,
  type Cell,
  cpuUsPerRequest,
  detailTable,
  find,
  formatBytes,
  LARGE_BODY,
  makeCell,
  markdownVerdicts,
  median,
  type Sample,
  summaryRows,
  summaryTable,
  type SystemInfo,
  verdicts,
} from "./report.ts";
import { C16_POINT, START_API_PATH, startStartApi } from "./start_api.ts";
import { ensure, ensureLoadTool, versionOf } from "./tools.ts";

/** Settings of one bench run. */
export interface Options {
  quick: boolean;
  rounds: number;
  durationS: number;
  lrpMain: string;
  nginxWorkers: string;
  startupReps: number;
  keep: boolean;
}

/** A load point: connections × request body size. */
export interface Point {
  connections: number;
  bodyBytes: number;
}

/** Every main system runs these: p50 at 1 connection, throughput, CPU and RSS at 64, RSS with 1 MB bodies. */
export const FULL_POINTS: readonly Point[] = [
  { connections: 1, bodyBytes: 0 },
  { connections: 64, bodyBytes: 0 },
  { connections: 64, bodyBytes: LARGE_BODY },
];
/** Variants (workers, inspect, functions) skip the 1 MB point to keep a run under five minutes. */
export const LIGHT_POINTS: readonly Point[] = FULL_POINTS.slice(0, 2);

const LOCAL_HOST = "local.bench";
const AWS_HOST = "aws.bench";
const FUNCTION_NAME = "bench-fn";
const ROUTED_HOST = "routed.bench";
/** The routed row's 1,000 routes on one host (999 `GET /r{i}/items/{id}` and a greedy catch-all). */
const ROUTED_KEYS = [...Array.from({ length: 999 }, (_, i) => `GET /r${i}/items/{id}`), "ANY /{proxy+}"];
/** A path the routed row asks for: a variable route deep in the table. */
const ROUTED_PATH = "/r777/items/42";
const FUNCTION_HOSTS = [{ hostname: "fn1.bench", concurrency: 1 }, { hostname: "fn4.bench", concurrency: 4 }];
/** What every proxy answers for the backend's result. */
const PROXIED_BODY = "ok";

/** Parses the command line; throws a `RangeError` on a bad flag. */
export function parseOptions(args: string[]): Options {
  const quick = args.includes("--quick");
  const withValue = ["--rounds", "--duration", "--lrp", "--nginx-workers"];
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
  for (const [i, arg] of args.entries()) {
    const prev = args[i - 1];
    const isValue = prev !== undefined && withValue.includes(prev);
    if (!isValue && !["--quick", "--keep", ...withValue].includes(arg)) {
      throw new RangeError(`Cannot parse arguments: unknown flag ${arg}`);
    }
  }
  return {
    quick,
    rounds: int("--rounds", quick ? 1 : 3),
    durationS: int("--duration", quick ? 1 : 3),
    lrpMain: value("--lrp") ?? new URL("../main.ts", import.meta.url).pathname,
    nginxWorkers: value("--nginx-workers") ?? "1",
    startupReps: quick ? 3 : 5,
    keep: args.includes("--keep"),
  };
}

/** A system under load: where to send requests, whose processes to read, or why it cannot be measured. */
interface Target extends SystemInfo {
  url: string;
  host?: string;
  /** The pid whose process tree is the system (CPU, memory). */
  root?: number;
  child?: Child;
  points: readonly Point[];
  skipped?: string;
}

const log = (line: string) => console.error(line);
const errorText = (err: unknown) => err instanceof Error ? err.message : String(err);

/** Environment for lrp and the signing baseline: AWS pointed at the fake backend with dummy credentials. */
function awsEnv(backendUrl: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_LAMBDA: backendUrl,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDBENCH",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_EC2_METADATA_DISABLED: "true",
    NO_COLOR: "1",
  };
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** Runs `deno run --allow-all main.ts ARGS`; resolves with its exit status and output. */
async function runLrpCommand(
  opts: Options,
  args: string[],
  backendUrl: string,
): Promise<{ success: boolean; code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", opts.lrpMain, ...args],
    cwd: dirname(opts.lrpMain),
    env: awsEnv(backendUrl),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { success: out.success, code: out.code, output };
}

/**
 * Runs `lrp check <config>`; undefined when it exits 0 and its route table
 * names every `mustList` hostname, else the reason.
 */
async function lrpCheck(
  opts: Options,
  config: string,
  backendUrl: string,
  mustList: string[],
): Promise<string | undefined> {
  try {
    const out = await runLrpCommand(opts, ["check", config], backendUrl);
    if (out.success) {
      const missing = mustList.filter((h) => !out.output.includes(h));
      return missing.length === 0 ? undefined : `lrp check does not list ${missing.join(", ")}`;
    }
    const lines = out.output.trim().split("\n");
    const first = Math.max(0, lines.findIndex((line) => /error/i.test(line)));
    // The first line naming the error says why; a path of the temp dir would only add noise.
    const why = lines.slice(first, first + 2).join(" | ").replaceAll(`${config}:`, "line ").slice(0, 160);
    return `lrp check exited ${out.code}: ${why}`;
  } catch (err) {
    return `lrp check failed: ${errorText(err)}`;
  }
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
  flags: string[] = [],
): Promise<{ child: Child; port: number; ms: number }> {
  const port = freePort();
  const config = `${tmp}/${name}.yaml`;
  await Deno.writeTextFile(config, lrpConfig(port, rules));
  const start = performance.now();
  const child = children.spawn(
    name,
    Deno.execPath(),
    // The runtime flags every packaged form runs lrp with (deno task start, compile, Dockerfile).
    [
      "run",
      "--allow-all",
      "--unstable-no-legacy-abort",
      V8_FLAGS,
      opts.lrpMain,
      ...flags,
      config,
    ],
    {
      cwd: dirname(opts.lrpMain),
      env: awsEnv(backendUrl),
    },
  );
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

/** Starts a program that prints its URL as its first line and waits until it proxies the backend's result. */
async function startBaseline(
  children: Children,
  name: string,
  file: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ child: Child; url: string }> {
  const path = new URL(`./baselines/${file}`, import.meta.url).pathname;
  const child = children.spawn(name, Deno.execPath(), ["run", "-A", path, "--port", "0", ...args], { env });
  try {
    const url = await firstLogLine(child, 30_000);
    const port = Number(new URL(url).port);
    await waitUntil(
      child,
      port,
      "/",
      "127.0.0.1",
      (r) => r.status === 200 && r.body === PROXIED_BODY,
      10_000,
    );
    return { child, url: `${url}/` };
  } catch (err) {
    await children.stop(child);
    throw err;
  }
}

async function machineInfo(
  tool: LoadTool,
  nginx: string | undefined,
  opts: Options,
  ticksPerSecond: number,
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
    clockTicksPerSecond: ticksPerSecond,
    benchCommit: await git(dirname(new URL(import.meta.url).pathname)),
    lrpCommit: await git(dirname(opts.lrpMain)),
    loadTool: await versionOf(tool, tool === "wrk" ? ["-v"] : ["-h"]),
    nginx: nginx ? await versionOf(nginx, ["-v"]) : "not available",
  };
}

/** The 1-minute load average (`/proc/loadavg`), to show how busy the machine was. */
async function loadAvg(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")[0] ?? "?";
}

/** Adds a target, or the reason it is skipped. */
function add(targets: Target[], info: SystemInfo, points: readonly Point[], rest: Partial<Target>): void {
  targets.push({ ...info, url: "", points, ...rest });
}

async function run(opts: Options, tmp: string, children: Children): Promise<void> {
  const tool = await ensureLoadTool();
  const nginxPath = await ensure("nginx", "nginx-light");
  const ticksPerSecond = await clockTicksPerSecond();
  const loadAvgStart = await loadAvg();
  const targets: Target[] = [];

  // The backend prints its URL as its first line.
  const backendPath = new URL("./backend.ts", import.meta.url).pathname;
  const backend = children.spawn("backend", Deno.execPath(), ["run", "-A", backendPath, "--port", "0"]);
  const backendUrl = await firstLogLine(backend, 30_000);
  const backendPort = Number(new URL(backendUrl).port);
  await waitUntil(backend, backendPort, "/", "127.0.0.1", (r) => r.status === 200, 10_000);
  add(targets, { name: "direct", label: "backend alone, no proxy (CPU: the backend's)" }, FULL_POINTS, {
    url: `${backendUrl}/`,
    root: backend.pid,
    child: backend,
  });
  log(`backend: ${backendUrl}`);

  const nginxInfo = {
    name: "nginx",
    label: `nginx (${opts.nginxWorkers} worker, plain proxy, no transform)`,
  };
  if (nginxPath === undefined) {
    add(targets, nginxInfo, FULL_POINTS, { skipped: "nginx could not be installed" });
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
      add(targets, nginxInfo, FULL_POINTS, {
        url: `http://127.0.0.1:${port}/`,
        root: nginx.pid,
        child: nginx,
      });
    } catch (err) {
      add(targets, nginxInfo, FULL_POINTS, { skipped: `nginx did not start: ${errorText(err)}` });
    }
  }

  // The baselines: Deno proxies that are not lrp.
  const baselines: (SystemInfo & { file: string; args: string[]; points: readonly Point[] })[] = [
    {
      name: "fetch-proxy",
      label: "30-line Deno proxy: `fetch` upstream, minimal event",
      file: "fetch_proxy.ts",
      args: [],
      // At 64 connections with 1 MB bodies it completes no request within a run and keeps working
      // after it, which would load the next system's run: measured at 0 B only.
      points: LIGHT_POINTS,
    },
    {
      name: "lean",
      label: "lean Deno proxy: full 2.0 event, own keep-alive pool",
      file: "lean_proxy.ts",
      args: [],
      points: FULL_POINTS,
    },
    {
      name: "lean-fresh",
      label: "lean Deno proxy, fresh connection per call (lrp-local's guarantee)",
      file: "lean_proxy.ts",
      args: ["--fresh"],
      points: FULL_POINTS,
    },
    {
      name: "lean-serial",
      label: "lean Deno proxy, fresh connection and one call at a time (all of lrp-local's guarantee)",
      file: "lean_proxy.ts",
      args: ["--fresh", "--serial"],
      points: LIGHT_POINTS,
    },
    {
      name: "lean-signed",
      label: "lean Deno proxy + SigV4 (Invoke API)",
      file: "lean_proxy.ts",
      args: ["--sign", "--function", FUNCTION_NAME],
      points: FULL_POINTS,
    },
  ];
  for (const b of baselines) {
    try {
      const { child, url } = await startBaseline(children, b.name, b.file, [
        "--upstream",
        backendUrl,
        ...b.args,
      ], awsEnv(backendUrl));
      add(targets, b, b.points, { url, root: child.pid, child });
    } catch (err) {
      add(targets, b, b.points, { skipped: `${b.file} did not start: ${errorText(err)}` });
    }
  }

  // lrp: probe what it supports, measure start-up, then start the instances under load.
  const localRule = { hostname: LOCAL_HOST, endpoint: backendUrl };
  const awsRule = { hostname: AWS_HOST, function_name: FUNCTION_NAME };
  const code = `${tmp}/function`;
  await Deno.mkdir(code, { recursive: true });
  await Deno.writeTextFile(`${code}/index.mjs`, FUNCTION_HANDLER);
  const functionRules = FUNCTION_HOSTS.map((f) => ({ ...f, code }));
  const startup: Record<string, unknown> = {};
  const cold: Record<string, number> = {};
  let startupLocalMs: number | undefined;
  let lrpSkip: string | undefined;
  let awsSkip: string | undefined;
  let fnSkip: string | undefined;
  let routedSkip: string | undefined;
  let flags = new Set<string>();
  try {
    await Deno.stat(opts.lrpMain);
    const help = await runLrpCommand(opts, ["--help"], backendUrl);
    flags = helpFlags(help.output);
  } catch (err) {
    lrpSkip = `lrp did not start: ${opts.lrpMain}: ${errorText(err)} (use --lrp PATH)`;
  }
  if (lrpSkip === undefined) {
    const probe = `${tmp}/lrp-check.yaml`;
    await Deno.writeTextFile(probe, lrpConfig(freePort(), { local: localRule, aws: awsRule }));
    awsSkip = await lrpCheck(opts, probe, backendUrl, [AWS_HOST]);
    const routedRule = { hostname: ROUTED_HOST, function_name: FUNCTION_NAME, routes: ROUTED_KEYS };
    await Deno.writeTextFile(probe, lrpConfig(freePort(), { local: localRule, routed: routedRule }));
    routedSkip = awsSkip ?? await lrpCheck(opts, probe, backendUrl, [`${ROUTED_HOST} routes`]);
    await Deno.writeTextFile(probe, lrpConfig(freePort(), { local: localRule, functions: functionRules }));
    fnSkip = await lrpCheck(opts, probe, backendUrl, FUNCTION_HOSTS.map((f) => f.hostname));
    log(
      `lrp flags: --workers ${flags.has("--workers")}, --inspect ${flags.has("--inspect")}; ` +
        `aws rule: ${awsSkip ?? "yes"}; routes: ${routedSkip ?? "yes"}; functions rule: ${fnSkip ?? "yes"}`,
    );
    try {
      const local = await measureStartup(children, opts, tmp, { local: localRule }, backendUrl);
      startupLocalMs = local.medianMs;
      startup.localOnly = local;
      log(`start-up, local-only: ${local.medianMs.toFixed(1)} ms (median of ${local.samplesMs.length})`);
      if (awsSkip === undefined) {
        startup.withAws = await measureStartup(
          children,
          opts,
          tmp,
          { local: localRule, aws: awsRule },
          backendUrl,
        );
      }
    } catch (err) {
      lrpSkip = `lrp did not start: ${errorText(err)}`;
    }
  }
  const workers = flags.has("--workers");
  const lrpRules: LrpRules = awsSkip === undefined
    ? { local: localRule, aws: awsRule }
    : { local: localRule };
  const mainRule = awsSkip === undefined
    ? { host: AWS_HOST, rule: "aws" }
    : { host: LOCAL_HOST, rule: "local" };
  const w1 = workers ? ", workers 1" : "";
  const lrpLocal = { name: "lrp-local", label: `**lrp, local rule**${w1}` };
  const lrpAws = { name: "lrp-aws", label: `**lrp, aws rule** (SigV4 Invoke API)${w1}` };
  const variants: {
    info: SystemInfo;
    skip: string | undefined;
    flags: string[];
    rules: LrpRules;
    host?: string;
    path?: string;
  }[] = [
    {
      // Beside the aws row: the same function behind 1,000 API Gateway routes on one host.
      info: { name: "lrp-aws-routed", label: "lrp, aws rule behind 1,000 routes (one host)" },
      skip: routedSkip,
      flags: workers ? ["--workers", "1"] : [],
      rules: {
        local: localRule,
        routed: { hostname: ROUTED_HOST, function_name: FUNCTION_NAME, routes: ROUTED_KEYS },
      },
      host: ROUTED_HOST,
      path: ROUTED_PATH,
    },
    {
      info: { name: "lrp-aws-w2", label: `lrp, ${mainRule.rule} rule, workers 2` },
      skip: workers ? undefined : "lrp --help lists no --workers",
      flags: ["--workers", "2"],
      rules: lrpRules,
    },
    {
      info: { name: "lrp-aws-inspect", label: `lrp, ${mainRule.rule} rule, --inspect on` },
      skip: flags.has("--inspect") ? undefined : "lrp --help lists no --inspect",
      flags: ["--inspect", ...(workers ? ["--workers", "1"] : [])],
      rules: lrpRules,
    },
  ];
  if (lrpSkip !== undefined) {
    log(`lrp skipped: ${lrpSkip}`);
    add(targets, lrpLocal, FULL_POINTS, { skipped: lrpSkip });
    add(targets, lrpAws, FULL_POINTS, { skipped: lrpSkip });
  } else {
    try {
      const { child, port } = await startLrp(
        children,
        opts,
        tmp,
        "lrp",
        lrpRules,
        backendUrl,
        workers ? ["--workers", "1"] : [],
      );
      const name = await procName(child.pid);
      if (name !== "deno") {
        log(`warning: lrp pid ${child.pid} is "${name}", not deno: CPU and RSS may be wrong`);
      }
      const url = `http://127.0.0.1:${port}/`;
      add(targets, lrpLocal, FULL_POINTS, { url, host: LOCAL_HOST, root: child.pid, child });
      if (awsSkip === undefined) {
        try {
          await waitUntil(
            child,
            port,
            "/",
            AWS_HOST,
            (r) => r.status === 200 && r.body === PROXIED_BODY,
            10_000,
          );
          add(targets, lrpAws, FULL_POINTS, { url, host: AWS_HOST, root: child.pid, child });
        } catch (err) {
          add(targets, lrpAws, FULL_POINTS, { skipped: `aws rule did not answer 200: ${errorText(err)}` });
        }
      } else add(targets, lrpAws, FULL_POINTS, { skipped: awsSkip });
      log(`lrp: ${url} (pid ${child.pid})`);
    } catch (err) {
      add(targets, lrpLocal, FULL_POINTS, { skipped: `lrp did not start: ${errorText(err)}` });
      add(targets, lrpAws, FULL_POINTS, { skipped: `lrp did not start: ${errorText(err)}` });
    }
  }
  for (const v of variants) {
    const skip = lrpSkip ?? v.skip;
    if (skip !== undefined) {
      add(targets, v.info, LIGHT_POINTS, { skipped: skip });
      continue;
    }
    try {
      const { child, port } = await startLrp(children, opts, tmp, v.info.name, v.rules, backendUrl, v.flags);
      const host = v.host ?? mainRule.host;
      const path = v.path ?? "/";
      await waitUntil(child, port, path, host, (r) => r.status === 200 && r.body === PROXIED_BODY, 10_000);
      const url = `http://127.0.0.1:${port}${path}`;
      add(targets, v.info, LIGHT_POINTS, { url, host, root: child.pid, child });
    } catch (err) {
      add(targets, v.info, LIGHT_POINTS, {
        skipped: `lrp ${v.flags.join(" ")} did not start: ${errorText(err)}`,
      });
    }
  }
  const fnInfos = FUNCTION_HOSTS.map((f) => ({
    name: `lrp-fn-c${f.concurrency}`,
    label: `lrp, functions rule (nodejs, concurrency ${f.concurrency}; CPU includes the runtime)`,
    hostname: f.hostname,
  }));
  if ((lrpSkip ?? fnSkip) !== undefined) {
    for (const f of fnInfos) add(targets, f, LIGHT_POINTS, { skipped: lrpSkip ?? fnSkip! });
  } else {
    try {
      const { child, port } = await startLrp(
        children,
        opts,
        tmp,
        "lrp-fn",
        {
          local: localRule,
          functions: functionRules,
        },
        backendUrl,
        workers ? ["--workers", "1"] : [],
      );
      const url = `http://127.0.0.1:${port}/`;
      for (const f of fnInfos) {
        // Cold: the first request to the hostname starts the runtime process.
        const start = performance.now();
        const first = await rawGet(port, "/", f.hostname, 30_000);
        cold[f.name] = Math.round((performance.now() - start) * 10) / 10;
        if (first.status !== 200 || first.body !== PROXIED_BODY) {
          add(targets, f, LIGHT_POINTS, {
            skipped: `functions rule answered ${first.status}: ${first.body.slice(0, 80)}`,
          });
        } else add(targets, f, LIGHT_POINTS, { url, host: f.hostname, root: child.pid, child });
      }
    } catch (err) {
      for (const f of fnInfos) {
        add(targets, f, LIGHT_POINTS, { skipped: `lrp with functions did not start: ${errorText(err)}` });
      }
    }
  }

  // start-api with a 3-function template, at 1 and 16 connections, and its cold start (spawn to first answer).
  const startApiInfo = { name: "lrp-start-api", label: "lrp start-api, 3-function SAM template (nodejs)" };
  const startApiPoints = [FULL_POINTS[0]!, C16_POINT];
  let startApiColdMs: number | undefined;
  if (lrpSkip !== undefined || !flags.has("--template")) {
    add(targets, startApiInfo, startApiPoints, { skipped: lrpSkip ?? "lrp has no start-api" });
  } else {
    const row = await startStartApi(children, opts.lrpMain, tmp, awsEnv(backendUrl));
    if ("skipped" in row) add(targets, startApiInfo, startApiPoints, { skipped: row.skipped });
    else {
      startApiColdMs = row.coldMs;
      const url = `http://127.0.0.1:${row.port}${START_API_PATH}`;
      add(targets, startApiInfo, startApiPoints, { url, root: row.child.pid, child: row.child });
    }
  }

  const live = targets.filter((t) => t.skipped === undefined);
  const samples = new Map<string, Sample[]>();
  const key = (s: string, p: Point) => `${s}|${p.connections}|${p.bodyBytes}`;
  let rssResettable = true;

  const load = async (target: Target, point: Point, durationS: number): Promise<Sample> => {
    const spec = { url: target.url, ...point, durationS, ...(target.host ? { host: target.host } : {}) };
    const tree = target.root === undefined ? [] : await processTree(target.root);
    for (const pid of tree) rssResettable = await resetPeakRss(pid) && rssResettable;
    const before = target.root === undefined ? undefined : await treeCpuTicks(target.root);
    const sample: Sample = await runLoad(tool, spec, tmp);
    const after = target.root === undefined ? undefined : await treeCpuTicks(target.root);
    const cpu = cpuUsPerRequest(before, after, ticksPerSecond, sample.requests, point.connections);
    if (cpu !== undefined) sample.cpuUsPerRequest = cpu;
    if (target.root !== undefined && point.connections === 64) {
      const now = await processTree(target.root);
      const rss = await treeMemoryMb(now, "VmRSS");
      const hwm = await treeMemoryMb(now, "VmHWM");
      if (rss !== undefined && hwm !== undefined) Object.assign(sample, { rssMb: rss, hwmMb: hwm });
    }
    if (target.child?.exited !== undefined) {
      throw new Error(`${target.child.name} exited during the bench: ${await logTail(target.child)}`);
    }
    if (target.root !== undefined) await settle(target.root);
    return sample;
  };

  // Warm-up (JIT, connection pools, runtime processes), not recorded.
  for (const target of live) {
    await load(target, { connections: 64, bodyBytes: 0 }, 1).catch((err) =>
      log(`warm-up ${target.name}: ${errorText(err)}`)
    );
  }

  // Points outside, systems inside: in the first round every system serves 0 B at 64 connections
  // before it has seen a 1 MB body, so that round's RSS is the figure of a fresh process.
  for (let round = 0; round < opts.rounds; round++) {
    for (const point of [...FULL_POINTS, C16_POINT]) {
      // Rotate the order each round so that no system always runs first or last.
      const order = live.map((_, i) => live[(i + round) % live.length]!);
      for (const target of order) {
        if (target.skipped !== undefined || !target.points.includes(point)) continue;
        const at = `${target.name} c=${point.connections} body=${formatBytes(point.bodyBytes)}`;
        try {
          const sample = await load(target, point, opts.durationS);
          samples.set(key(target.name, point), [...samples.get(key(target.name, point)) ?? [], sample]);
          log(
            `[round ${round + 1}/${opts.rounds}] ${at}: ${
              Math.round(sample.rps)
            } req/s, p50 ${sample.p50Us} µs, ` +
              `CPU ${sample.cpuUsPerRequest?.toFixed(0) ?? "?"} µs/req` +
              (sample.hwmMb !== undefined
                ? `, RSS ${sample.rssMb!.toFixed(0)}/${sample.hwmMb.toFixed(0)} MB`
                : "") +
              (sample.non2xx + sample.socketErrors > 0
                ? `, ${sample.non2xx} non-2xx, ${sample.socketErrors} socket errors`
                : ""),
          );
        } catch (err) {
          log(`${at} failed: ${errorText(err)}`);
          if (/exited during the bench/.test(errorText(err))) {
            for (const t of targets) {
              if (target.child !== undefined && t.child === target.child) t.skipped = errorText(err);
            }
          }
        }
      }
    }
  }

  const cells: Cell[] = [];
  for (const target of targets) {
    for (const point of target.points) {
      const list = samples.get(key(target.name, point)) ?? [];
      const skipped = target.skipped ?? (list.length === 0 ? "every run failed" : undefined);
      cells.push(makeCell(target.name, point.connections, point.bodyBytes, list, skipped));
    }
  }
  addRatios(cells);
  const rows = summaryRows(targets, cells);
  const list = verdicts(cells, rows, { startupLocalMs });

  const direct1 = find(cells, "direct", 1, 0);
  const serialized: Record<string, number> = {};
  for (const system of ["lrp-local", "lean-serial"]) {
    for (const connections of [1, 64]) {
      const proxy = find(cells, system, connections, 0);
      if (proxy?.skipped === undefined && direct1?.skipped === undefined && proxy && direct1) {
        serialized[`${system} c${connections}`] = proxy.rps / direct1.rps;
      }
    }
  }

  const machine: Record<string, unknown> = {
    ...await machineInfo(tool, nginxPath, opts, ticksPerSecond),
    loadAvgStart,
    loadAvgEnd: await loadAvg(),
  };
  console.log(`## lrp bench — ${machine.date} — ${machine.cpuModel}, ${machine.nproc} cores\n`);
  console.log(
    `Load average (1 min) at start ${loadAvgStart}, at end ${machine.loadAvgEnd}: above the core count, other ` +
      `programs shared the machine and absolute figures are low; compare rows of this run only.\n`,
  );
  console.log(
    `${opts.rounds} round(s) × ${opts.durationS} s per run, medians; ${tool} 1 thread; 0 B = GET, ` +
      `1 MB = POST application/octet-stream. CPU: the system's own processes (utime+stime from /proc) ` +
      `÷ requests completed. RSS: VmRSS after / VmHWM during the run, summed over the system's processes.\n`,
  );
  console.log(summaryTable(rows));
  const reasons = targets.filter((t) => t.skipped !== undefined);
  if (reasons.length > 0) console.log("\nNot measured:");
  for (const t of reasons) console.log(`- ${t.name}: ${t.skipped}`);
  console.log(`\n### Every load point\n\n${detailTable(cells)}`);
  console.log(
    "\nreq/s ÷ backend serialized rate (direct, 1 conn, 0 B), lrp-local and the lean proxy under its guarantee:",
  );
  for (const [k, v] of Object.entries(serialized)) console.log(`- ${k}: ${v.toFixed(2)}×`);
  if (Object.keys(cold).length > 0) {
    console.log(
      `\nfunctions rule, first (cold) request: ${JSON.stringify(cold)} ms; warm p50: see "p50, 1 conn"`,
    );
  }
  if (startApiColdMs !== undefined) {
    console.log(
      `\nstart-api cold start, spawn to the first answer of a Node.js function: ${startApiColdMs} ms`,
    );
  }
  console.log(`\nstart-up to first proxied request (ms): ${JSON.stringify(startup)}`);
  if (!rssResettable) console.log("(VmHWM could not be reset before each run: peaks are since start)");
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
      lrpFlags: { workers: workers, inspect: flags.has("--inspect") },
    },
    skipped: Object.fromEntries(reasons.map((t) => [t.name, t.skipped])),
    summary: rows,
    cells,
    localVsSerializedBackend: serialized,
    functionsColdMs: cold,
    startApiColdMs,
    startup,
    peakRssResetBeforeEachRun: rssResettable,
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
  await runWithChildren("lrp-bench-", opts.keep, log, (tmp, children) => run(opts, tmp, children));
}
