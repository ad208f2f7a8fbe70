/**
 * Child processes of the benchmark: spawning with output sent to a log file,
 * waiting until a server answers, and stopping every child whatever happens.
 * Also the generated configs (nginx, lrp) and the memory probe.
 *
 * @module
 */

/** A spawned child and where its output goes. */
export interface Child {
  name: string;
  process: Deno.ChildProcess;
  /** The pid of the program itself: the `sh` wrapper `exec`s into it. */
  pid: number;
  log: string;
  /** Set once the child has exited. */
  exited: Deno.CommandStatus | undefined;
}

/** Options of {@linkcode Children.spawn}. */
export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
}

/**
 * Every child the bench started, so that one `stopAll()` in a `finally` ends
 * them all. Output goes to a log file through `sh -c 'exec …'`, so the child's
 * pid is the program's own (not a wrapper's) and the bench reads no pipes.
 */
export class Children {
  #children = new Set<Child>();
  #dir: string;

  /** Creates a registry whose logs go to `dir`. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Spawns `cmd args…`; stdout and stderr go to `<dir>/<name>.log`. */
  spawn(name: string, cmd: string, args: string[], options: SpawnOptions = {}): Child {
    const log = `${this.#dir}/${name}.log`;
    const command = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >>"$0" 2>&1', log, cmd, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
    });
    const process = command.spawn();
    const child: Child = { name, process, pid: process.pid, log, exited: undefined };
    process.status.then((status) => child.exited = status);
    this.#children.add(child);
    return child;
  }

  /** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(child: Child, graceMs = 2000): Promise<void> {
    this.#children.delete(child);
    if (child.exited !== undefined) return;
    kill(child.process, "SIGTERM");
    const timer = setTimeout(() => kill(child.process, "SIGKILL"), graceMs);
    try {
      await child.process.status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops every child still running. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#children].map((child) => this.stop(child)));
  }
}

/**
 * Waits (at most 3 s) until a process tree is idle — at most one clock tick
 * of CPU in 100 ms — so that requests still in flight when the load tool
 * stopped do not run into the next system's measurement.
 */
export async function settle(root: number): Promise<void> {
  let last = await treeCpuTicks(root);
  for (let i = 0; i < 30 && last !== undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = await treeCpuTicks(root);
    if (now === undefined || now - last <= 1) return;
    last = now;
  }
}

/**
 * A bench program's main: a temporary folder for the children's logs, every
 * child stopped on SIGINT/SIGTERM or when `run` ends, the logs kept with
 * `keep` or after a failure. Exits 0, or 1 when `run` threw.
 */
export async function runWithChildren(
  prefix: string,
  keep: boolean,
  log: (line: string) => void,
  run: (tmp: string, children: Children) => Promise<void>,
): Promise<never> {
  const tmp = await Deno.makeTempDir({ prefix });
  const children = new Children(tmp);
  const onSignal = () => {
    log("interrupted: stopping children");
    children.stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let failed = false;
  try {
    await run(tmp, children);
  } catch (err) {
    failed = true;
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : err}`);
  } finally {
    await children.stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (keep || failed) log(`logs kept in ${tmp}`);
    else await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  Deno.exit(failed ? 1 : 0);
}

function kill(process: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    process.kill(signal);
  } catch {
    // Already gone.
  }
}

/**
 * The telling part of a child's log for an error message: the first line that
 * mentions an error and the one after it, else the last lines; colours removed.
 */
export async function logTail(child: Child, lines = 3): Promise<string> {
  try {
    // deno-lint-ignore no-control-regex
    const text = (await Deno.readTextFile(child.log)).replace(/\x1b\[[0-9;]*m/g, "");
    const all = text.trim().split("\n").map((line) => line.trim()).filter((line) => line !== "");
    const first = all.findIndex((line) => /error/i.test(line));
    return (first === -1 ? all.slice(-lines) : all.slice(first, first + 2)).join(" | ");
  } catch {
    return "";
  }
}

/** A port that was free a moment ago: bind port 0, read it, release it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Result of {@linkcode rawGet}. */
export interface RawResponse {
  status: number;
  body: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * One `GET` over a fresh connection with `Connection: close`, with a chosen
 * `Host`. Raw TCP so that nothing (pooling, Host rules) stands between the
 * probe and the server; rejects if the server does not answer in `timeoutMs`.
 */
export async function rawGet(
  port: number,
  path: string,
  host: string,
  timeoutMs = 2000,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer.
    }
  }
  const text = decoder.decode(concat(chunks));
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? NaN);
  if (Number.isNaN(status)) throw new TypeError(`Cannot parse response: ${text.slice(0, 100)}`);
  return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Polls `GET path` until `accept` holds, the child exits, or `timeoutMs`
 * passes. Returns the milliseconds waited, or throws with the reason.
 */
export async function waitUntil(
  child: Child,
  port: number,
  path: string,
  host: string,
  accept: (response: RawResponse) => boolean,
  timeoutMs: number,
  intervalMs = 2,
): Promise<number> {
  const start = performance.now();
  let last = "no answer";
  while (performance.now() - start < timeoutMs) {
    if (child.exited !== undefined) {
      throw new Error(`${child.name} exited with code ${child.exited.code}: ${await logTail(child)}`);
    }
    try {
      const response = await rawGet(port, path, host);
      if (accept(response)) return performance.now() - start;
      last = `status ${response.status}: ${response.body.slice(0, 120).trim()}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`${child.name} not ready after ${timeoutMs} ms (${last}): ${await logTail(child)}`);
}

/** Polls a child's log until its first line appears (the backend prints its URL there). */
export async function firstLogLine(child: Child, timeoutMs: number): Promise<string> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (child.exited !== undefined) {
      throw new Error(`${child.name} exited with code ${child.exited.code}: ${await logTail(child)}`);
    }
    const text = await Deno.readTextFile(child.log).catch(() => "");
    const newline = text.indexOf("\n");
    if (newline !== -1) return text.slice(0, newline).trim();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${child.name} printed nothing in ${timeoutMs} ms`);
}

/**
 * An nginx config for a plain reverse proxy: one worker (lrp's JavaScript is
 * one thread too), keep-alive to the upstream, no access log, request bodies
 * buffered in memory (lrp must hold the whole body to build the event), and
 * every path nginx writes inside `dir` so it runs unprivileged and leaves
 * nothing behind.
 */
export function nginxConfig(dir: string, port: number, upstream: string, workers: string): string {
  const asRoot = Deno.uid() === 0 ? "user root;\n" : "";
  return `${asRoot}worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  client_max_body_size 16m;
  client_body_buffer_size 2m;
  keepalive_requests 1000000;
  upstream backend {
    server ${upstream};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`;
}

/** A `functions:` rule of the generated lrp config: lrp runs the handler itself. */
export interface FunctionRule {
  hostname: string;
  /** Folder holding `index.mjs` (absolute). */
  code: string;
  concurrency: number;
}

/** The rules of a generated lrp config. */
export interface LrpRules {
  local?: { hostname: string; endpoint: string };
  aws?: { hostname: string; function_name: string };
  /** An aws rule with API Gateway routes (the routed row). */
  routed?: { hostname: string; function_name: string; routes: string[] };
  functions?: FunctionRule[];
}

/** An lrp config (gabrielelana/lambda-reverse-proxy YAML shape, plus `functions:`). */
export function lrpConfig(port: number, rules: LrpRules): string {
  const lines = ["host: 127.0.0.1", `port: ${port}`];
  if (rules.local) {
    lines.push("local:", `  - hostname: ${rules.local.hostname}`, `    endpoint: ${rules.local.endpoint}`);
  }
  if (rules.aws) {
    lines.push(
      "aws:",
      `  - hostname: ${rules.aws.hostname}`,
      `    function_name: ${rules.aws.function_name}`,
    );
  }
  if (rules.routed) {
    if (!rules.aws) lines.push("aws:");
    lines.push(
      `  - hostname: ${rules.routed.hostname}`,
      `    function_name: ${rules.routed.function_name}`,
      `    routes: ${JSON.stringify(rules.routed.routes)}`,
    );
  }
  if (rules.functions && rules.functions.length > 0) {
    lines.push("functions:");
    for (const f of rules.functions) {
      lines.push(
        `  - hostname: ${f.hostname}`,
        "    runtime: nodejs",
        "    handler: index.handler",
        `    code: ${JSON.stringify(f.code)}`,
        `    concurrency: ${f.concurrency}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** The Node.js handler the `functions:` rows run: the same small 2.0 result as the backend, at once. */
export const FUNCTION_HANDLER =
  `export const handler = async () => ({ statusCode: 200, headers: { "content-type": "text/plain" }, body: "ok" });\n`;

/** The flags (`--name`) a program's `--help` text lists, so the bench can use a setting only where it exists. */
export function helpFlags(help: string): Set<string> {
  return new Set([...help.matchAll(/(?:^|[\s,])(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

/** CPU figures of one `/proc/<pid>/stat` line, in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** User plus system time of the process itself (all its threads). */
  ticks: number;
  /** User plus system time of its children that have exited and been waited for. */
  childTicks: number;
}

/**
 * Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
 * and may hold spaces and `)`, so fields are counted from the LAST `)`:
 * after it come state (3), ppid (4), … utime (14), stime (15), cutime (16),
 * cstime (17).
 */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" (")));
  const fields = text.slice(close + 2).trim().split(" ");
  const field = (n: number): number => {
    const value = Number(fields[n - 3]);
    if (fields[n - 3] === undefined || !Number.isFinite(value)) {
      throw new TypeError(`Cannot parse /proc stat: field ${n} in ${text.slice(0, 80)}`);
    }
    return value;
  };
  if (close === -1 || !Number.isInteger(pid)) {
    throw new TypeError(`Cannot parse /proc stat: ${text.slice(0, 80)}`);
  }
  return { pid, ppid: field(4), ticks: field(14) + field(15), childTicks: field(16) + field(17) };
}

/** `pid` and every descendant, from a list of all processes' stats. */
export function descendants(root: number, all: ProcStat[]): ProcStat[] {
  const out = all.filter((p) => p.pid === root);
  for (let i = 0; i < out.length; i++) {
    for (const p of all) if (p.ppid === out[i]!.pid) out.push(p);
  }
  return out;
}

async function allStats(): Promise<ProcStat[]> {
  const out: ProcStat[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      out.push(parseProcStat(await Deno.readTextFile(`/proc/${entry.name}/stat`)));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/** The pids of a process tree (a supervisor and its workers, nginx's master and workers). */
export async function processTree(root: number): Promise<number[]> {
  return descendants(root, await allStats()).map((p) => p.pid);
}

/**
 * CPU time used so far by a process tree, in clock ticks: every live
 * member's own time plus what its exited children used. Read before and
 * after a run, the difference is what the system spent on that run.
 */
export async function treeCpuTicks(root: number): Promise<number | undefined> {
  const tree = descendants(root, await allStats());
  return tree.length === 0 ? undefined : tree.reduce((n, p) => n + p.ticks + p.childTicks, 0);
}

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux when that fails). */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped", stderr: "null" })
      .output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** Sum of a memory field over a process tree, in MB (shared pages count once per process). */
export async function treeMemoryMb(pids: number[], field: "VmHWM" | "VmRSS"): Promise<number | undefined> {
  let total: number | undefined;
  for (const pid of pids) {
    const mb = await procMemoryMb(pid, field);
    if (mb !== undefined) total = (total ?? 0) + mb;
  }
  return total;
}

/** Reads a `kB` field (VmHWM, VmRSS) of `/proc/<pid>/status` in MB. */
export async function procMemoryMb(pid: number, field: "VmHWM" | "VmRSS"): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/**
 * Resets the peak-RSS mark (VmHWM) of a process (`echo 5 > clear_refs`,
 * Linux ≥ 4.0), so the next reading is the peak since now. Returns false
 * where that is not allowed; VmHWM is then the peak since start.
 */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The process name in `/proc/<pid>/comm`, to check that the measured pid is deno itself. */
export async function procName(pid: number): Promise<string> {
  return (await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "?")).trim();
}
