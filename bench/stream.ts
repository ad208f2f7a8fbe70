/**
 * The streaming benchmark: `deno task bench:stream`.
 *
 * Streams 100 MB through lrp to a slow reader: the fake Invoke API
 * (`tests/fakes/lambda_api.ts`, real event-stream frames) answers
 * `InvokeWithResponseStream` with an HTTP-integration prelude and 64 KB
 * `PayloadChunk`s as fast as it may; lrp (`deno run main.ts`, an aws rule with
 * `invoke_mode: RESPONSE_STREAM`) passes them on; the reader takes them at a
 * throttled rate over a raw socket. Prints the time to first byte, the
 * throughput, and lrp's RSS: idle (after one warm-up stream) and peak (VmHWM,
 * reset before the run). Done means the peak rises by less than 32 MB over
 * idle: back-pressure, not buffering.
 *
 * Flags: `--size MB` (default 100), `--rate MB/s` for the reader (default 25),
 * `--lrp PATH/TO/main.ts`.
 *
 * @module
 */

import { startFakeLambdaApi } from "../tests/fakes/lambda_api.ts";
import { Children, freePort, procMemoryMb, resetPeakRss, waitUntil } from "./procs.ts";

const CREDENTIALS = { accessKeyId: "AKIDBENCHSTREAM", secretAccessKey: "bench-secret" };
const REGION = "us-east-1";
const HOST = "stream.bench";
const CHUNK = 64 * 1024;
const RSS_LIMIT_MB = 32;
const PRELUDE = '{"statusCode":200,"headers":{"content-type":"application/octet-stream"}}' + "\0".repeat(8);

/** Settings of one run. */
export interface StreamOptions {
  sizeMb: number;
  rateMbps: number;
  lrpMain: string;
}

/** Parses the command line; throws a `RangeError` on a bad flag. */
export function parseStreamOptions(args: string[]): StreamOptions {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const num = (flag: string, fallback: number) => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!(n > 0)) throw new RangeError(`Cannot parse ${flag}: ${raw}`);
    return n;
  };
  return {
    sizeMb: num("--size", 100),
    rateMbps: num("--rate", 25),
    lrpMain: value("--lrp") ?? new URL("../main.ts", import.meta.url).pathname,
  };
}

/** What one streamed response measured. */
interface ReadResult {
  ttfbMs: number;
  bodyBytes: number;
  totalMs: number;
  complete: boolean;
}

/**
 * GETs `/` with the bench Host over a raw socket and reads the chunked body at
 * `rateMbps` at most (0: as fast as possible), counting body bytes.
 */
async function slowRead(port: number, rateMbps: number): Promise<ReadResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const t0 = performance.now();
  await conn.write(new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`));
  const buf = new Uint8Array(64 * 1024);
  const decoder = new ChunkedCounter();
  let ttfbMs = -1;
  let read = 0;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (ttfbMs < 0) ttfbMs = performance.now() - t0;
      decoder.push(buf.subarray(0, n));
      read += n;
      if (rateMbps > 0) {
        // Sleep until the bytes read so far fit the allowed rate.
        const dueMs = (read / (rateMbps * 1024 * 1024)) * 1000;
        const ahead = dueMs - (performance.now() - t0);
        if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
      }
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return {
    ttfbMs,
    bodyBytes: decoder.bodyBytes,
    totalMs: performance.now() - t0,
    complete: decoder.complete,
  };
}

/** Counts the payload bytes of a chunked HTTP/1.1 response, head skipped. */
class ChunkedCounter {
  bodyBytes = 0;
  complete = false;
  #state: "head" | "size" | "data" | "crlf" = "head";
  #line = "";
  #left = 0;
  #matched = 0;

  push(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      switch (this.#state) {
        case "head":
          this.#matched = b === [13, 10, 13, 10][this.#matched] ? this.#matched + 1 : (b === 13 ? 1 : 0);
          if (this.#matched === 4) this.#state = "size";
          break;
        case "size":
          if (b === 10) {
            this.#left = parseInt(this.#line, 16);
            this.#line = "";
            if (this.#left === 0) {
              this.complete = true;
              return;
            }
            this.#state = "data";
          } else if (b !== 13) this.#line += String.fromCharCode(b);
          break;
        case "data": {
          const take = Math.min(this.#left, bytes.length - i);
          this.bodyBytes += take;
          this.#left -= take;
          i += take - 1;
          if (this.#left === 0) this.#state = "crlf";
          break;
        }
        case "crlf":
          if (b === 10) this.#state = "size";
          break;
      }
    }
  }
}

/** Runs the benchmark and prints its figures; returns whether the RSS target passed. */
export async function runStreamBench(options: StreamOptions): Promise<boolean> {
  const totalChunks = Math.ceil((options.sizeMb * 1024 * 1024) / CHUNK);
  const chunk = new Uint8Array(CHUNK).fill(0x61);
  await using fake = startFakeLambdaApi({
    functions: [{
      name: "bench-stream",
      streaming: { contentType: "application/vnd.awslambda.http-integration-response" },
      handler: (event) => {
        const small = (event as { rawPath?: string }).rawPath === "/warm";
        return {
          kind: "stream",
          chunks: (function* () {
            yield PRELUDE;
            for (let i = 0; i < (small ? 1 : totalChunks); i++) yield chunk;
          })(),
        };
      },
    }],
    credentials: CREDENTIALS,
    region: REGION,
  });
  const dir = await Deno.makeTempDir({ prefix: "lrp-bench-stream-" });
  const children = new Children(dir);
  try {
    const port = freePort();
    const config = `${dir}/lrp.yaml`;
    await Deno.writeTextFile(
      config,
      `host: 127.0.0.1\nport: ${port}\nlog_level: warn\naws:\n  - hostname: ${HOST}\n    function_name: bench-stream\n    invoke_mode: RESPONSE_STREAM\n`,
    );
    const lrp = children.spawn("lrp", Deno.execPath(), ["run", "--allow-all", options.lrpMain, config], {
      env: {
        AWS_ENDPOINT_URL_LAMBDA: fake.url,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      },
    });
    await waitUntil(lrp, port, "/warm", HOST, (r) => r.status === 200, 30_000, 20);
    // Warm-up: the SDK loaded, one streamed response through every layer.
    await slowRead(port, 0);
    await new Promise((r) => setTimeout(r, 200));
    const idleMb = (await procMemoryMb(lrp.pid, "VmRSS")) ?? NaN;
    const reset = await resetPeakRss(lrp.pid);
    const result = await slowRead(port, options.rateMbps);
    const peakMb = (await procMemoryMb(lrp.pid, "VmHWM")) ?? NaN;
    const riseMb = peakMb - idleMb;
    const expected = totalChunks * CHUNK;
    const pass = result.complete && result.bodyBytes === expected && riseMb < RSS_LIMIT_MB;
    const mb = (n: number) => n.toFixed(1);
    console.log(
      `## lrp response streaming: ${mb(expected / 1048576)} MB to a reader at ${options.rateMbps} MB/s\n`,
    );
    console.log("| figure | value |");
    console.log("| --- | --- |");
    console.log(`| time to first byte | ${result.ttfbMs.toFixed(1)} ms |`);
    console.log(
      `| body received | ${result.bodyBytes} of ${expected} bytes, ${
        result.complete ? "complete" : "INCOMPLETE"
      } |`,
    );
    console.log(
      `| duration, throughput | ${(result.totalMs / 1000).toFixed(1)} s, ${
        mb(result.bodyBytes / 1048576 / (result.totalMs / 1000))
      } MB/s |`,
    );
    console.log(`| lrp RSS idle (after warm-up) | ${mb(idleMb)} MB |`);
    console.log(
      `| lrp peak RSS while streaming (VmHWM${reset ? ", reset before the run" : ", since start"}) | ${
        mb(peakMb)
      } MB |`,
    );
    console.log(`| rise over idle | ${mb(riseMb)} MB |`);
    console.log(
      `\n${pass ? "PASS" : "FAIL"}: peak RSS rise < ${RSS_LIMIT_MB} MB over idle, every byte delivered`,
    );
    return pass;
  } finally {
    await children.stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const ok = await runStreamBench(parseStreamOptions(Deno.args));
  Deno.exit(ok ? 0 : 1);
}
