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

/** A rule of the generated lrp config. */
export interface LrpRules {
  local?: { hostname: string; endpoint: string };
  aws?: { hostname: string; function_name: string };
}

/** An lrp config (gabrielelana/lambda-reverse-proxy YAML shape). */
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
  return lines.join("\n") + "\n";
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
