/**
 * Child processes for end-to-end tests — the one way to run lrp as a real
 * `deno run main.ts …` process, plus the fake RIE process and temporary
 * config files. Every child is stopped on dispose, even when a test fails.
 *
 * @module
 */

/** The Deno binary running the tests, for child processes. */
export const DENO = Deno.execPath();
/** The repository root as a path (with a trailing slash). */
export const ROOT = new URL("../../", import.meta.url).pathname;
/** `main.ts` as a path. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** Deno's module cache, for children started with a cleared environment. */
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

/** How to start a child. */
export interface SpawnOptions {
  /** Extra environment variables (added to this process's environment unless `clearEnv`). */
  env?: Record<string, string>;
  /** Start from an empty environment (plus `DENO_DIR`), so only `env` is seen. */
  clearEnv?: boolean;
  /** Working directory; the repository root by default. */
  cwd?: string;
  /** Runs the child under `ulimit -n` with this descriptor limit (through `sh`). */
  openFilesLimit?: number;
}

/** A running child with its output collected line by line. */
export interface Child extends AsyncDisposable {
  process: Deno.ChildProcess;
  /** stderr lines so far (lrp logs JSON lines there). */
  stderr: string[];
  /** stdout lines so far. */
  stdout: string[];
  /** Sends `signal` (default SIGTERM) once and waits for the exit status and the end of the output. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process has exited and its output is read. */
  exited: Promise<Deno.CommandStatus>;
}

function collect(stream: ReadableStream<Uint8Array>, into: string[], onLine: (l: string) => void) {
  return (async () => {
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        into.push(line);
        onLine(line);
      }
    }
    if (buf) {
      into.push(buf);
      onLine(buf);
    }
  })().catch(() => {});
}

/** Spawns `deno <args>` (in the repository root by default). `onLine` sees every stderr line. */
export function spawnDeno(
  args: string[],
  options: SpawnOptions = {},
  onLine: (line: string) => void = () => {},
): Child {
  const limited = options.openFilesLimit !== undefined;
  const process = new Deno.Command(limited ? "sh" : DENO, {
    args: limited ? ["-c", `ulimit -n ${options.openFilesLimit} && exec "$0" "$@"`, DENO, ...args] : args,
    cwd: options.cwd ?? ROOT,
    clearEnv: options.clearEnv ?? false,
    env: { NO_COLOR: "1", ...(options.clearEnv && { DENO_DIR }), ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr: string[] = [];
  const stdout: string[] = [];
  const reading = Promise.all([
    collect(process.stderr, stderr, onLine),
    collect(process.stdout, stdout, () => {}),
  ]);
  const exited = Promise.all([process.status, reading]).then(([s]) => s);
  let signalled = false;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!signalled) {
      signalled = true;
      try {
        process.kill(signal);
      } catch { /* already gone */ }
    }
    return exited;
  };
  return {
    process,
    stderr,
    stdout,
    stop,
    exited,
    async [Symbol.asyncDispose]() {
      // Graceful first; a child that ignores SIGTERM for 5 s is killed.
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5_000);
      await stop("SIGTERM");
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 20 ms until it returns a value, or throws after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** lrp running as a child process. */
export interface LrpChild extends Child {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** The port lrp listens on. */
  port: number;
  /** Every JSON log line so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first log line (present or future) that `match` accepts. */
  waitForLine(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

/** Options of {@linkcode startLrpChild}. */
export interface LrpOptions extends SpawnOptions {
  /** The program to run instead of the local `main.ts` (a URL, say). */
  entry?: string;
  /** Deno flags before the entry; `-A` by default. */
  denoArgs?: string[];
}

/**
 * Starts lrp (`deno run -A main.ts …args`) and resolves once it logs `lrp
 * listening`; rejects (with its stderr) if it exits first.
 */
export async function startLrpChild(args: string[], options: LrpOptions = {}): Promise<LrpChild> {
  const lines: Record<string, unknown>[] = [];
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  const onLine = (text: string) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      return;
    }
    lines.push(line);
    for (const w of [...waiters]) {
      if (w.match(line)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  const child = spawnDeno(
    ["run", ...(options.denoArgs ?? ["-A"]), options.entry ?? MAIN, ...args],
    options,
    onLine,
  );
  const waitForLine = (match: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) => {
    const found = lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.findIndex((w) => w.match === match), 1);
        reject(new Error(`No matching log line within ${timeoutMs} ms; stderr:\n${child.stderr.join("\n")}`));
      }, timeoutMs);
      waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  let listening;
  try {
    listening = await Promise.race([
      waitForLine((l) => l.msg === "lrp listening"),
      child.exited.then((s) => {
        throw new Error(`lrp exited with ${s.code} before listening; stderr:\n${child.stderr.join("\n")}`);
      }),
    ]);
  } catch (err) {
    await child[Symbol.asyncDispose]();
    throw err;
  }
  const url = String(listening.address);
  return Object.assign(child, { url, port: Number(new URL(url).port), lines, waitForLine });
}

/** Runs `deno run -A main.ts …args` to completion. */
export async function runLrp(
  args: string[],
  options: SpawnOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...(options.clearEnv && { DENO_DIR }), ...options.env },
    clearEnv: options.clearEnv ?? false,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

/** Starts the fake RIE process (tests/fakes/rie_process.ts) and resolves with its URL (its first stdout line). */
export async function startRieProcess(args: string[]): Promise<Child & { url: string }> {
  const child = spawnDeno(["run", "--allow-net", "tests/fakes/rie_process.ts", "--port", "0", ...args]);
  const url = await waitFor("the fake RIE", () => child.stdout[0]);
  return Object.assign(child, { url });
}

/** Writes a temporary config file and returns its path. */
export async function tempConfig(text: string): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(path, text);
  return path;
}

/** Whether process `pid` still runs (a zombie, exited but not yet collected, does not count). */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}
