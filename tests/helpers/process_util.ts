/**
 * Test helpers for operating lrp: a fake RIE on loopback, and lrp itself as a
 * child process (`deno run main.ts …`) whose JSON log lines the test reads.
 *
 * @module
 */

import { RIE_INVOKE_PATH } from "../../lib/invoke/local.ts";

/** The Deno binary running the tests, for child processes. */
export const DENO = Deno.execPath();
/** The repository root as a path. */
export const ROOT = new URL("../..", import.meta.url).pathname;
/** `main.ts` as a path. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A fake RIE: answers every invocation with `answer(event)` as a payload 2.0 result. */
export function fakeRie(
  answer: (event: Record<string, unknown>) => unknown | Promise<unknown>,
): Deno.HttpServer<Deno.NetAddr> & { url: string; invocations: number } {
  const state = { invocations: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (new URL(request.url).pathname !== RIE_INVOKE_PATH) return new Response("not found", { status: 404 });
    state.invocations++;
    return Response.json(await answer(await request.json()));
  });
  return Object.defineProperties(server as typeof server & { url: string; invocations: number }, {
    url: { value: `http://127.0.0.1:${server.addr.port}` },
    invocations: { get: () => state.invocations },
  });
}

/** lrp running as a child process. */
export interface LrpChild {
  process: Deno.ChildProcess;
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first log line (present or future) that `match` accepts. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<Deno.CommandStatus>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `deno run -A <entry> …args` and resolves once lrp logs `lrp
 * listening`. `entry` defaults to the local `main.ts`; `denoArgs` go before it.
 */
export async function startLrpChild(
  args: string[],
  options: {
    env?: Record<string, string>;
    /** Start from an empty environment: only `env` (and `NO_COLOR`). */
    clearEnv?: boolean;
    cwd?: string;
    entry?: string;
    denoArgs?: string[];
  } = {},
): Promise<LrpChild> {
  const process = new Deno.Command(DENO, {
    args: ["run", "-A", ...(options.denoArgs ?? []), options.entry ?? MAIN, ...args],
    env: { NO_COLOR: "1", ...options.env },
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  const raw: string[] = [];
  const reading = (async () => {
    const decoder = process.stderr.pipeThrough(new TextDecoderStream());
    let buffer = "";
    for await (const chunk of decoder) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        raw.push(text);
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          continue;
        }
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.match(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    }
  })();
  const stdoutDone = process.stdout.cancel();
  const waitForLine = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`No matching log line within ${timeoutMs} ms; stderr:\n${raw.join("\n")}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  let status: Promise<Deno.CommandStatus> | undefined;
  const stop = () => {
    if (!status) {
      try {
        process.kill("SIGTERM");
      } catch {
        // already exited
      }
      status = Promise.all([process.status, reading, stdoutDone]).then(([s]) => s);
    }
    return status;
  };
  let listening;
  try {
    listening = await Promise.race([
      waitForLine((l) => l.msg === "lrp listening"),
      process.status.then((s) => {
        throw new Error(`lrp exited with ${s.code} before listening; stderr:\n${raw.join("\n")}`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    process,
    url: String(listening.address),
    lines,
    waitForLine,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** Runs `deno run -A main.ts …args` to completion. */
export async function runLrp(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    cwd: ROOT,
    stdin: "null",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}
