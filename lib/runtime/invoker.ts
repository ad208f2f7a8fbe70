/**
 * The invoker of a `functions:` rule: a pool of runtime processes that lrp
 * supervises itself, the way Lambda runs execution environments. Processes
 * start on demand up to `concurrency`, each runs one invocation at a time,
 * idle ones stay warm until `idle_timeout`; requests wait in a bounded FIFO
 * queue when all are busy (503 + `Retry-After` beyond it, as local rules).
 *
 * A client that goes away does not stop the invocation: the process stays
 * busy until the function answers or times out, as in Lambda.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import { type Deadline, Deadlines } from "../invoke/deadline.ts";
import { abortable } from "../invoke/local.ts";
import { SlotQueue } from "../invoke/queue.ts";
import type { Invoker, InvokeRequest, InvokeResult } from "../invoke/types.ts";
import type { Logger } from "../obs/log.ts";
import type { FunctionRule } from "../route/rule.ts";
import { concatBytes } from "../bytes.ts";
import { isHttpIntegration } from "../wire/prelude.ts";
import { bodyStream, readFirstBytes, readStreamStart } from "../wire/stream.ts";
import { type Answer, MAX_RESPONSE_BYTES, tooLarge } from "./api.ts";
import { canSetsid, type ClientFolder, lambdaEnvironment, prepareClient } from "./clients.ts";
import { confinedCommand, prlimitPath } from "./limits.ts";
import { RuntimeProcess } from "./process.ts";
import { payloadBytes } from "../wire/payload.ts";

/** Runs a `functions:` rule's handler in supervised runtime processes. */
export class FunctionInvoker implements Invoker {
  readonly describe: string;
  /** The admission queue (concurrency = processes at most). */
  readonly queue: SlotQueue;
  #rule: FunctionRule;
  #log: Logger;
  #client: Promise<ClientFolder> | undefined;
  #idle: { process: RuntimeProcess; timer: Deadline | undefined }[] = [];
  /** Idle retirement and invocation timeouts, each on one shared timer: none set and cleared per invocation. */
  #idleDeadlines: Deadlines;
  #timeouts: Deadlines;
  #all = new Set<RuntimeProcess>();
  /** Bumped by `restart`: processes of an older generation are retired once free. */
  #generation = 0;
  #born = new WeakMap<RuntimeProcess, number>();
  #closed = false;
  #watcher: Deno.FsWatcher | undefined;
  #setsid = canSetsid();
  #prlimit = prlimitPath();
  /** The code folder's state when the processes' code was last taken (see `reloaded`). */
  #codeStamp: string;

  /** Creates the pool; no process starts before the first request. */
  constructor(rule: FunctionRule, log: Logger) {
    this.#rule = rule;
    this.#log = log;
    this.describe = `function ${rule.name}`;
    this.#idleDeadlines = new Deadlines(rule.idleTimeoutMs);
    this.#timeouts = new Deadlines(rule.timeoutMs);
    this.queue = new SlotQueue(`function ${rule.name}`, {
      concurrency: rule.concurrency,
      maxWaiting: rule.queueLimit,
      maxWaitMs: rule.queueTimeoutMs,
    });
    if (rule.watch) this.#watch();
    this.#codeStamp = codeStamp(rule.code);
  }

  /**
   * The configuration was reloaded and this invoker kept (its rule is
   * unchanged): processes started from code that has changed since are
   * replaced, as `watch_code` would have done.
   */
  reloaded(): void {
    const stamp = codeStamp(this.#rule.code);
    if (stamp === this.#codeStamp) return;
    this.#codeStamp = stamp;
    this.#log.info("function code changed; restarting its runtime processes", {
      function: this.#rule.name,
      reason: "reload",
    });
    this.restart();
  }

  /** Live processes (busy or idle), for tests and metrics. */
  get processes(): number {
    return this.#all.size;
  }

  /** Waits for a free process (or room to start one), then invokes. */
  async invoke(request: InvokeRequest): Promise<InvokeResult> {
    const queuedAt = performance.now();
    const release = await this.queue.acquire(request.signal);
    const queueWaitMs = performance.now() - queuedAt;
    let process: RuntimeProcess;
    try {
      process = await this.#take();
    } catch (err) {
      release();
      throw err;
    }
    const id = request.requestId ?? crypto.randomUUID();
    const run = process.run(
      payloadBytes(request.payload),
      request.traceId,
      id,
      () => request.onReached?.(id),
    );
    run.finished.then(() => {
      this.#give(process);
      release();
    });
    // A stream nobody will read (the client left meanwhile) is drained so the process is freed.
    run.answer.then((a) => {
      if (request.signal.aborted && a.kind === "stream") a.source.cancel();
    }, () => {});
    const answer = await abortable(run.answer, request.signal);
    return { ...await this.#result(answer), queueWaitMs, functionRequestId: id };
  }

  /** Turns the runtime's answer into a result of the rule's invoke mode. */
  async #result(answer: Answer): Promise<InvokeResult> {
    if (answer.kind === "error") return { body: answer.bytes, functionError: answer.errorType };
    if (answer.kind === "buffered") return { body: answer.bytes };
    const { source, contentType } = answer;
    if (this.#rule.invokeMode !== "RESPONSE_STREAM") {
      // A buffered rule reads the stream whole, as Lambda's synchronous Invoke does.
      const parts: Uint8Array[] = [];
      let size = 0;
      for (let chunk; (chunk = await source.read()) !== null;) {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          source.cancel();
          const error = tooLarge() as Extract<Answer, { kind: "error" }>;
          return { body: error.bytes, functionError: error.errorType };
        }
        parts.push(chunk);
      }
      return { body: concatBytes(parts) };
    }
    if (isHttpIntegration(contentType)) {
      const s = await readStreamStart(source, true);
      return { body: bodyStream(s.head, source, s.done), prelude: s.prelude, contentType };
    }
    const first = await readFirstBytes(source, new Uint8Array(0));
    return { body: bodyStream(first.head, source, first.done), contentType };
  }

  /** An idle process of the current generation, or a new one. */
  async #take(): Promise<RuntimeProcess> {
    for (let idle; (idle = this.#idle.pop());) {
      idle.timer?.cancel();
      if (idle.process.alive) return idle.process;
    }
    if (this.#closed) {
      throw new LrpError("upstream_unreachable", `Cannot invoke ${this.#rule.name}: lrp is stopping`);
    }
    this.#client ??= prepareClient(this.#rule);
    const client = await this.#client;
    const process = new RuntimeProcess({
      rule: this.#rule,
      command: confinedCommand(this.#rule, client.command, { setsid: this.#setsid, prlimit: this.#prlimit }),
      env: lambdaEnvironment(this.#rule),
      setsid: this.#setsid,
      log: this.#log,
      timeouts: this.#timeouts,
    });
    this.#all.add(process);
    this.#born.set(process, this.#generation);
    process.closed.then(() => this.#all.delete(process));
    this.#log.debug("runtime process started", { function: this.#rule.name, pid: process.pid });
    return process;
  }

  /** Puts a process that finished an invocation back (or retires it). */
  #give(process: RuntimeProcess): void {
    if (!process.alive) return;
    if (this.#closed || this.#born.get(process) !== this.#generation) {
      void process.kill();
      return;
    }
    const entry: { process: RuntimeProcess; timer: Deadline | undefined } = { process, timer: undefined };
    entry.timer = this.#idleDeadlines.add(() => {
      const i = this.#idle.indexOf(entry);
      if (i === -1) return;
      this.#idle.splice(i, 1);
      this.#log.debug("idle runtime process retired", { function: this.#rule.name, pid: process.pid });
      void process.kill();
    });
    this.#idle.push(entry);
  }

  /**
   * Starts one runtime process before any request (`start-api
   * --warm-containers EAGER`); it then waits idle like any warm process.
   * Failures are the first request's to report, as on a cold start.
   */
  async prewarm(): Promise<void> {
    const release = await this.queue.acquire(new AbortController().signal);
    try {
      this.#give(await this.#take());
    } catch {
      // The first invocation starts a process again and reports why it cannot.
    } finally {
      release();
    }
  }

  /** Replaces every process: idle ones stop now, busy ones once their invocation is over. */
  restart(): void {
    this.#generation++;
    for (const { process, timer } of this.#idle.splice(0)) {
      timer?.cancel();
      void process.kill();
    }
  }

  #watch(): void {
    try {
      this.#watcher = Deno.watchFs(this.#rule.code, { recursive: true });
    } catch (err) {
      this.#log.warn("cannot watch the function's code", {
        function: this.#rule.name,
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      for await (const event of this.#watcher!) {
        if (event.kind === "access") continue;
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.#log.info("function code changed; restarting its runtime processes", {
            function: this.#rule.name,
          });
          this.restart();
        }, 100);
      }
    })().catch(() => {}).finally(() => clearTimeout(timer));
  }

  /** Stops watching and kills every process (their process groups too); removes the client folder. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.#watcher?.close();
    } catch {
      // already closed
    }
    for (const { timer } of this.#idle.splice(0)) timer?.cancel();
    await Promise.all([...this.#all].map((p) => p.kill()));
    if (this.#client) await (await this.#client.catch(() => undefined))?.close();
  }
}

/** Files looked at for a code stamp, at most: a reload stays quick beside a huge `node_modules`. */
const STAMP_FILES = 20_000;

/**
 * What changes when a file under `dir` is edited, added or removed: the
 * number of files, their total size and the latest modification time.
 */
function codeStamp(dir: string): string {
  let files = 0;
  let bytes = 0;
  let latest = 0;
  const walk = (path: string) => {
    let entries;
    try {
      entries = Deno.readDirSync(path);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (files >= STAMP_FILES) return;
      const child = `${path}/${entry.name}`;
      if (entry.isDirectory) walk(child);
      else if (entry.isFile) {
        try {
          const info = Deno.statSync(child);
          files++;
          bytes += info.size;
          latest = Math.max(latest, info.mtime?.getTime() ?? 0);
        } catch {
          // gone meanwhile: the next stamp sees it
        }
      }
    }
  };
  walk(dir);
  return `${files}:${bytes}:${latest}`;
}
