/**
 * The load generator seam of the benchmark: runs `wrk` (or `hey` where wrk
 * cannot be had) for a bounded time against one URL and returns one
 * {@linkcode LoadSample}. Output parsers are pure and exported for tests.
 *
 * @module
 */

/** One measured run. Latencies are in microseconds. */
export interface LoadSample {
  /** Requests completed per second (wrk counts every answered request). */
  rps: number;
  p50Us: number;
  p99Us: number;
  requests: number;
  /** Answers with a status outside 2xx/3xx. */
  non2xx: number;
  /** Connect, read, write and timeout errors. */
  socketErrors: number;
}

/** What to send. */
export interface LoadSpec {
  url: string;
  /** Value of the `Host` header; the URL's authority when absent. */
  host?: string;
  connections: number;
  durationS: number;
  /** Request body size; 0 sends `GET`, more sends `POST` with that many bytes. */
  bodyBytes: number;
}

/** The load tool in use. */
export type LoadTool = "wrk" | "hey";

const UNIT_US: Record<string, number> = {
  us: 1,
  "µs": 1,
  ms: 1_000,
  s: 1_000_000,
  m: 60_000_000,
  h: 3_600_000_000,
};

/** Converts a wrk duration such as `94.00us`, `1.28ms` or `2.01s` to microseconds. */
export function parseWrkDuration(text: string): number {
  const match = /^([\d.]+)(us|µs|ms|s|m|h)$/.exec(text.trim());
  const unit = match?.[2];
  if (match === null || unit === undefined) throw new TypeError(`Cannot parse wrk duration: ${text}`);
  return Math.round(Number(match[1]) * (UNIT_US[unit] ?? NaN));
}

/** The marker line our wrk `done()` hook prints with exact figures. */
const MARKER = "LRP_BENCH ";

/**
 * Parses wrk output. Prefers the JSON line printed by the Lua `done()` hook
 * (exact percentiles in µs); falls back to the `--latency` text, so output of
 * a run without the hook parses too.
 */
export function parseWrkOutput(output: string): LoadSample {
  const marker = output.split("\n").find((line) => line.startsWith(MARKER));
  if (marker !== undefined) {
    const j = JSON.parse(marker.slice(MARKER.length)) as Record<string, number>;
    const num = (key: string): number => {
      const value = j[key];
      if (typeof value !== "number") throw new TypeError(`Cannot parse wrk summary: ${key} missing`);
      return value;
    };
    const durationUs = num("duration_us");
    return {
      rps: durationUs > 0 ? num("requests") / (durationUs / 1e6) : 0,
      p50Us: num("p50_us"),
      p99Us: num("p99_us"),
      requests: num("requests"),
      non2xx: num("status"),
      socketErrors: num("connect") + num("read") + num("write") + num("timeout"),
    };
  }
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output)?.[1];
  const p50 = /^\s*50(?:\.0+)?%\s+(\S+)/m.exec(output)?.[1];
  const p99 = /^\s*99(?:\.0+)?%\s+(\S+)/m.exec(output)?.[1];
  if (rps === undefined || p50 === undefined || p99 === undefined) {
    throw new TypeError(`Cannot parse wrk output: ${output.slice(0, 300)}`);
  }
  const requests = /^\s*(\d+) requests in/m.exec(output)?.[1];
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1];
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    rps: Number(rps),
    p50Us: parseWrkDuration(p50),
    p99Us: parseWrkDuration(p99),
    requests: Number(requests ?? 0),
    non2xx: Number(non2xx ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** Parses `hey` output (latencies are printed in seconds). */
export function parseHeyOutput(output: string): LoadSample {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)?.[1];
  const p50 = /50%+ in ([\d.]+) secs/.exec(output)?.[1];
  const p99 = /99%+ in ([\d.]+) secs/.exec(output)?.[1];
  if (rps === undefined || p50 === undefined || p99 === undefined) {
    throw new TypeError(`Cannot parse hey output: ${output.slice(0, 300)}`);
  }
  let requests = 0;
  let non2xx = 0;
  for (const [, status, count] of output.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) {
    requests += Number(count);
    if (Number(status) >= 400) non2xx += Number(count);
  }
  let socketErrors = 0;
  const errors = output.split("Error distribution:")[1] ?? "";
  for (const [, count] of errors.matchAll(/^\s*\[(\d+)\]/gm)) socketErrors += Number(count);
  return {
    rps: Number(rps),
    p50Us: Number(p50) * 1e6,
    p99Us: Number(p99) * 1e6,
    requests,
    non2xx,
    socketErrors,
  };
}

/** The Lua script wrk runs: sets method and body, prints exact figures when done. */
export function wrkScript(bodyBytes: number): string {
  const request = bodyBytes > 0
    ? [
      `wrk.method = "POST"`,
      `wrk.headers["Content-Type"] = "application/octet-stream"`,
      `wrk.body = string.rep("x", ${bodyBytes})`,
    ]
    : [`wrk.method = "GET"`];
  return [
    ...request,
    "done = function(summary, latency, requests)",
    "  local e = summary.errors",
    `  io.write(string.format('\\n${MARKER}{"requests":%d,"duration_us":%d,"p50_us":%.0f,"p99_us":%.0f,` +
    `"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}\\n',`,
    "    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),",
    "    e.connect, e.read, e.write, e.timeout, e.status))",
    "end",
    "",
  ].join("\n");
}

/**
 * Runs one load test and returns its sample. The tool is killed if it runs
 * more than 30 s past its duration, so a stuck server cannot hang the bench.
 */
export async function runLoad(tool: LoadTool, spec: LoadSpec, tmpDir: string): Promise<LoadSample> {
  const signal = AbortSignal.timeout((spec.durationS + 30) * 1000);
  let args: string[];
  if (tool === "wrk") {
    const script = `${tmpDir}/wrk-${spec.bodyBytes}.lua`;
    await Deno.writeTextFile(script, wrkScript(spec.bodyBytes));
    args = [
      "-t1",
      `-c${spec.connections}`,
      `-d${spec.durationS}s`,
      "--timeout",
      "10s",
      "--latency",
      "-s",
      script,
    ];
    if (spec.host !== undefined) args.push("-H", `Host: ${spec.host}`);
  } else {
    args = ["-z", `${spec.durationS}s`, "-c", String(spec.connections), "-t", "10"];
    if (spec.bodyBytes > 0) {
      const file = `${tmpDir}/body-${spec.bodyBytes}.bin`;
      await Deno.writeFile(file, new Uint8Array(spec.bodyBytes).fill(0x78));
      args.push("-m", "POST", "-D", file, "-T", "application/octet-stream");
    }
    if (spec.host !== undefined) args.push("-host", spec.host);
  }
  args.push(spec.url);
  const out = await new Deno.Command(tool, { args, stdout: "piped", stderr: "piped", stdin: "null", signal })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`Cannot run ${tool}: exit ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return tool === "wrk" ? parseWrkOutput(text) : parseHeyOutput(text);
}
