/**
 * Soak: sustained mixed load through a real lrp child process in front of
 * fake RIE processes (each one exits if it ever sees two invocations at once),
 * on loopback only. Reports requests served, outcomes by kind (expected vs
 * unexpected) and lrp's RSS over time; exits 1 on any unexpected outcome, a
 * crashed fake RIE, a `bug:` log line, or RSS growing after warm-up.
 *
 * ```sh
 * deno task soak                      # 60 s, 64 connections
 * deno task soak --seconds 10 --connections 16
 * ```
 *
 * Connections are split: 5/8 good requests (two echo functions, the echo is
 * checked), 1/8 function errors (502), 1/8 function timeouts (504), 1/8
 * clients that disconnect 10 ms after sending (before the answer).
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url);
const te = new TextEncoder();
const td = new TextDecoder();

/** Options of a soak run. */
export interface SoakOptions {
  seconds: number;
  connections: number;
}

/** Parses `--seconds` and `--connections`. */
export function parseSoakArgs(args: string[]): SoakOptions {
  const { values } = parseArgs({
    args,
    options: { seconds: { type: "string", default: "60" }, connections: { type: "string", default: "64" } },
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!(seconds > 0) || !Number.isInteger(connections) || connections < 8) {
    throw new RangeError("Cannot soak: --seconds must be positive and --connections a whole number >= 8");
  }
  return { seconds, connections };
}

interface Proc {
  child: Deno.ChildProcess;
  stderr: string[];
}

function spawn(args: string[]): Proc & { stdout: Promise<string> } {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr: string[] = [];
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr.push(chunk);
  })().catch(() => {});
  const stdout = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (text.includes("\n")) break;
    }
    return text.split("\n")[0]!;
  })();
  return { child, stderr, stdout };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 102.4) / 10;
}

/** One keep-alive HTTP/1.1 connection that reads `Content-Length` framed answers. */
class Connection {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  static async open(port: number): Promise<Connection> {
    return new Connection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }
  async send(head: string): Promise<void> {
    await this.#conn.write(te.encode(`${head}\r\n\r\n`));
  }
  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) throw new Error("connection closed by lrp");
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
  }
  async response(): Promise<{ status: number; headers: string; body: string }> {
    let end: number;
    while ((end = td.decode(this.#buf.subarray(0, 16384)).indexOf("\r\n\r\n")) === -1) await this.#fill();
    const headers = td.decode(this.#buf.subarray(0, end));
    const length = /\r\ncontent-length: *(\d+)/i.exec(headers)?.[1];
    if (length === undefined) throw new Error("answer without content-length");
    while (this.#buf.length < end + 4 + Number(length)) await this.#fill();
    const body = td.decode(this.#buf.subarray(end + 4, end + 4 + Number(length)));
    this.#buf = this.#buf.slice(end + 4 + Number(length));
    return { status: Number(headers.slice(9, 12)), headers, body };
  }
  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

type Kind = "good" | "error" | "timeout" | "disconnect";

/** Tallies of one run. */
export interface SoakReport {
  seconds: number;
  connections: number;
  requests: number;
  expected: Record<string, number>;
  unexpected: Record<string, number>;
  rss: { atSeconds: number; mb: number }[];
  rieCrashes: number;
  lrpBugLines: number;
}

/** Runs the soak and returns its report. */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const ries = {
    good1: spawn(["run", "--allow-net", "tests/fakes/rie_process.ts", "--mode", "echo"]),
    good2: spawn(["run", "--allow-net", "tests/fakes/rie_process.ts", "--mode", "echo"]),
    error: spawn(["run", "--allow-net", "tests/fakes/rie_process.ts", "--mode", "throw"]),
    timeout: spawn([
      "run",
      "--allow-net",
      "tests/fakes/rie_process.ts",
      "--mode",
      "timeout",
      "--timeout-ms",
      "100",
    ]),
    slow: spawn(["run", "--allow-net", "tests/fakes/rie_process.ts", "--mode", "echo", "--delay-ms", "50"]),
  };
  const urls: Record<string, string> = {};
  for (const [name, p] of Object.entries(ries)) urls[name] = await p.stdout;
  const port = freePort();
  const config = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(
    config,
    `host: 127.0.0.1\nport: ${port}\nupstream_timeout: 10s\nlocal:\n` +
      Object.entries(urls).map(([name, url]) => `  - hostname: ${name}.soak\n    endpoint: ${url}\n`).join(
        "",
      ),
  );
  const lrp = spawn(["run", "--allow-all", "main.ts", config, "--log-level", "error"]);
  const rss: SoakReport["rss"] = [];
  const expected: Record<string, number> = {};
  const unexpected: Record<string, number> = {};
  const count = (into: Record<string, number>, key: string) => into[key] = (into[key] ?? 0) + 1;
  try {
    for (let i = 0;; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.text()).catch(() => "");
      if (up === "pong") break;
      if (i > 300) throw new Error(`Cannot start lrp: ${lrp.stderr.join("")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    rss.push({ atSeconds: 0, mb: await rssMb(lrp.child.pid) });
    const deadline = started + options.seconds * 1000;
    let sampling = true;
    const sampler = (async () => {
      const every = Math.max(1, options.seconds / 12);
      while (sampling) {
        await new Promise((r) => setTimeout(r, every * 1000));
        if (!sampling) break;
        rss.push({ atSeconds: Math.round(elapsed()), mb: await rssMb(lrp.child.pid) });
      }
    })();

    const kindOf = (i: number): Kind => {
      const eighth = i % 8;
      return eighth < 5 ? "good" : eighth === 5 ? "error" : eighth === 6 ? "timeout" : "disconnect";
    };
    const worker = async (index: number) => {
      const kind = kindOf(index);
      let conn: Connection | undefined;
      for (let n = 0; performance.now() < deadline; n++) {
        const host = kind === "good"
          ? (index % 2 ? "good1.soak" : "good2.soak")
          : kind === "disconnect"
          ? "slow.soak"
          : `${kind}.soak`;
        const path = `/w${index}/r${n}?q=${n}`;
        const head = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer soak`;
        try {
          if (kind === "disconnect") {
            const c = await Connection.open(port);
            await c.send(head);
            await new Promise((r) => setTimeout(r, 10));
            c.close();
            count(expected, "client disconnect");
            continue;
          }
          conn ??= await Connection.open(port);
          await conn.send(head);
          const res = await conn.response();
          if (kind === "good") {
            const event = res.status === 200 ? JSON.parse(res.body) : undefined;
            if (event?.rawPath === path.slice(0, path.indexOf("?"))) count(expected, "200 ok");
            else count(unexpected, `good: ${res.status} ${res.body.slice(0, 80)}`);
          } else if (kind === "error") {
            if (res.status === 502 && JSON.parse(res.body).error === "function_error") {
              count(expected, "502 function_error");
            } else count(unexpected, `error: ${res.status} ${res.body.slice(0, 80)}`);
          } else {
            // The RIE reports the function's own timeout ("Task timed out"): lrp's 504 function_timeout.
            if (res.status === 504 && JSON.parse(res.body).error === "function_timeout") {
              count(expected, "504 function_timeout");
            } else count(unexpected, `timeout: ${res.status} ${res.body.slice(0, 80)}`);
          }
        } catch (err) {
          count(unexpected, `${kind}: ${err instanceof Error ? err.message : err}`);
          conn?.close();
          conn = undefined;
        }
      }
      conn?.close();
    };
    await Promise.all(Array.from({ length: options.connections }, (_, i) => worker(i)));
    sampling = false;
    await sampler;
    // Let the last disconnected requests finish upstream, then take the final sample.
    await new Promise((r) => setTimeout(r, 500));
    rss.push({ atSeconds: Math.round(elapsed()), mb: await rssMb(lrp.child.pid) });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status).catch(() => 0);
    if (health !== 200) count(unexpected, `healthz after the run: ${health}`);
  } finally {
    try {
      lrp.child.kill("SIGTERM");
    } catch { /* gone */ }
    await lrp.child.status;
  }
  let rieCrashes = 0;
  for (const p of Object.values(ries)) {
    // A fake RIE exits by itself (status 2) only when it saw two invocations at once.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      p.child.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 100)),
    ]);
    clearTimeout(timer);
    if (exited) rieCrashes++;
    else p.child.kill("SIGKILL");
    await p.child.status;
  }
  await Deno.remove(config);
  const requests = Object.values(expected).reduce((a, b) => a + b, 0) +
    Object.values(unexpected).reduce((a, b) => a + b, 0);
  return {
    seconds: options.seconds,
    connections: options.connections,
    requests,
    expected,
    unexpected,
    rss,
    rieCrashes,
    lrpBugLines: lrp.stderr.join("").split("\n").filter((l) => l.includes('"bug:')).length,
  };
}

/**
 * RSS growth after warm-up: the last sample over the first sample taken at a
 * quarter of the run or later. A leak that keeps per-request state alive shows
 * as steady growth (it did: 227 → 397 MB over 15–60 s, from 905 s hold timers).
 */
export function rssGrowth(r: Pick<SoakReport, "rss" | "seconds">): number {
  const warm = r.rss.find((s) => s.atSeconds >= r.seconds / 4) ?? r.rss[0];
  const last = r.rss[r.rss.length - 1];
  return warm && last ? last.mb / warm.mb : 1;
}

/** Largest tolerated {@linkcode rssGrowth}. */
export const MAX_RSS_GROWTH = 1.25;

/** The report as text. */
export function formatReport(r: SoakReport): string {
  const lines = [
    `soak: ${r.seconds} s, ${r.connections} connections, ${r.requests} requests (${
      Math.round(r.requests / r.seconds)
    }/s)`,
    "expected outcomes:",
    ...Object.entries(r.expected).map(([k, v]) => `  ${k}: ${v}`),
    `unexpected outcomes: ${Object.values(r.unexpected).reduce((a, b) => a + b, 0)}`,
    ...Object.entries(r.unexpected).map(([k, v]) => `  ${k}: ${v}`),
    `fake RIEs that crashed (saw overlapping invocations): ${r.rieCrashes}`,
    `lrp "bug:" log lines: ${r.lrpBugLines}`,
    `lrp RSS (MB) by second: ${r.rss.map((s) => `${s.atSeconds}s=${s.mb}`).join(" ")}`,
    `lrp RSS growth after warm-up: x${rssGrowth(r).toFixed(2)} (limit x${MAX_RSS_GROWTH})`,
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  const report = await soak(parseSoakArgs(Deno.args));
  console.log(formatReport(report));
  const bad = Object.keys(report.unexpected).length > 0 || report.rieCrashes > 0 || report.lrpBugLines > 0 ||
    rssGrowth(report) > MAX_RSS_GROWTH;
  Deno.exit(bad ? 1 : 0);
}
