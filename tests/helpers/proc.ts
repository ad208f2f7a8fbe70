/**
 * Child-process helpers for end-to-end tests: run `deno run main.ts …` or a
 * fake RIE as real processes, wait for them to be ready, and always clean up.
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);
const decoder = new TextDecoder();

/** A running child with its collected stderr. */
export interface Child extends AsyncDisposable {
  process: Deno.ChildProcess;
  /** stderr lines so far (lrp logs JSON lines there). */
  stderr: string[];
  /** stdout lines so far. */
  stdout: string[];
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

function collect(stream: ReadableStream<Uint8Array>, into: string[], onLine?: (l: string) => void) {
  (async () => {
    let buf = "";
    for await (const chunk of stream) {
      buf += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        into.push(line);
        onLine?.(line);
      }
    }
    if (buf) into.push(buf);
  })().catch(() => {});
}

/** Spawns `deno <args>` in the repository root. */
export function spawnDeno(args: string[], env: Record<string, string> = {}, cwd = ROOT): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr: string[] = [];
  const stdout: string[] = [];
  collect(process.stderr, stderr);
  collect(process.stdout, stdout);
  let status: Promise<Deno.CommandStatus> | undefined;
  const stop = (signal: Deno.Signal = "SIGTERM") => {
    if (!status) {
      try {
        process.kill(signal);
      } catch { /* already gone */ }
      status = process.status;
    }
    return status;
  };
  return { process, stderr, stdout, stop, [Symbol.asyncDispose]: async () => void await stop("SIGKILL") };
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

/** Starts lrp (`deno run main.ts …`) and resolves with its port once it logs that it listens. */
export async function startLrpProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<Child & { port: number }> {
  const child = spawnDeno(["run", "--allow-all", "main.ts", ...args], env);
  const port = await waitFor("lrp to listen", () => {
    for (const line of child.stderr) {
      if (line.includes('"lrp listening"')) return Number(/:(\d+)$/.exec(JSON.parse(line).address)?.[1]);
    }
    return undefined;
  }).catch((err) => {
    child.stop("SIGKILL");
    throw new Error(`${err.message}; stderr: ${child.stderr.join("\n")}`);
  });
  return Object.assign(child, { port });
}

/** Starts the fake RIE process and resolves with its URL (its first stdout line). */
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
