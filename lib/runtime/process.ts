/**
 * One runtime process — Lambda's execution environment — with its own
 * Runtime API listener: it runs one invocation at a time, is killed on a
 * timeout, and reports how each invocation ended. Its output lines and
 * Lambda's `START` / `END` / `REPORT` lines go to lrp's logger, tagged with
 * the function and the request id.
 *
 * Each process is started through `setsid` where available, so that killing
 * it kills its whole process group (a `bootstrap` script's children too).
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import type { Deadline } from "../invoke/deadline.ts";
import { type Answer, type Invocation, RuntimeApi } from "./api.ts";
import { CHANNEL_ENV } from "./channel.ts";
import { LineSplitter, type OutputLine } from "./output.ts";
import { PeakMemory, reportLine } from "./report.ts";
import { nextTurn } from "./turn.ts";
import {
  exitError,
  INIT_TIMEOUT_MS,
  OUTPUT_GRACE_MS,
  PIPE_READ_BYTES,
  type ProcessSpec,
  type Run,
  SETTLE_MAX_MS,
} from "./process_types.ts";

export { INIT_TIMEOUT_MS, OUTPUT_GRACE_MS, SETTLE_MAX_MS } from "./process_types.ts";
export type { ProcessSpec, Run } from "./process_types.ts";

/** A runtime process and its Runtime API listener. */
export class RuntimeProcess {
  /** The child's pid (its process group too, with setsid). */
  readonly pid: number;
  /** Resolves when the process has exited and its output and listener are closed. */
  readonly closed: Promise<void>;
  #spec: ProcessSpec;
  #api: RuntimeApi;
  #child: Deno.ChildProcess;
  #exit: Deno.CommandStatus | undefined;
  #setsid: boolean;
  #startedAt = performance.now();
  #initMs: number | undefined;
  #reportedInit = false;
  #initTimer: ReturnType<typeof setTimeout> | undefined;
  #current: Current | undefined;
  #killing = false;
  /** Output chunks read so far, both pipes and the channel: how `#settle` sees output still arriving. */
  #chunks = 0;
  /**
   * Whether output may come through the pipes: they have carried some since the first invocation, or the
   * bundled client said a child process started. From then on every invocation waits for them to settle
   * (`#settle`). Output through the private channel comes in order with the answer and needs no wait.
   */
  #pipesSpoke = false;
  /** Output lines from the private channel, one splitter per stream, and their loggers. */
  #channelLines = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  #emit!: Record<"stdout" | "stderr", (line: OutputLine) => void>;
  /**
   * The request id output lines are tagged with: the last invocation the runtime took. Kept after its answer
   * (a pipe is read later than the answer arrives); Lambda too files lines under it until the next START.
   */
  #lastRequestId: string | undefined;
  #memory!: PeakMemory;

  /** Spawns the process; throws an {@linkcode LrpError} when it cannot start. */
  constructor(spec: ProcessSpec) {
    this.#spec = spec;
    this.#emit = { stdout: this.#emitter("stdout"), stderr: this.#emitter("stderr") };
    const name = spec.rule.name;
    this.#api = new RuntimeApi({
      functionArn: `arn:aws:lambda:${spec.rule.region}:012345678912:function:${name}`,
      onReady: () => {
        this.#initMs = performance.now() - this.#startedAt;
        clearTimeout(this.#initTimer);
      },
      onInitError: (bytes, errorType) => this.#initFailed(bytes, errorType),
      // lrp's own clients take their events over the private channel (channel.ts).
      channel: spec.rule.runtime !== "provided",
      onOutput: (stream, bytes) => {
        // Counted as the pipes' chunks are: an answer over HTTP settles behind the channel's output too.
        this.#chunks++;
        this.#channelLines[stream].push(bytes, this.#emit[stream]);
      },
      onPipes: () => this.#pipesSpoke = true,
    });
    const argv = spec.command;
    try {
      this.#child = new Deno.Command(argv[0]!, {
        args: argv.slice(1),
        cwd: spec.rule.code,
        clearEnv: true,
        env: {
          ...spec.env,
          AWS_LAMBDA_RUNTIME_API: this.#api.address,
          ...(this.#api.channel && { [CHANNEL_ENV]: this.#api.channel.path }),
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      void this.#api.close();
      throw new LrpError(
        "function_error",
        `Cannot start the runtime of ${name}: ${spec.command[0]}: ${
          err instanceof Error ? err.message : err
        }`,
      );
    }
    this.#setsid = spec.setsid;
    this.pid = this.#child.pid;
    this.#memory = new PeakMemory(this.pid);
    this.#initTimer = setTimeout(() => {
      spec.log.error(
        `INIT_REPORT Init Duration: ${INIT_TIMEOUT_MS.toFixed(2)} ms Phase: init Status: timeout`,
        {
          function: name,
          pid: this.pid,
        },
      );
      this.#fail(
        new LrpError(
          "upstream_timeout",
          `Cannot invoke ${name}: its runtime did not initialise within ${INIT_TIMEOUT_MS / 1000} s`,
        ),
      );
      this.kill();
    }, INIT_TIMEOUT_MS);
    // BYOB readers into one buffer each: a default reader allocates 64 KiB for every chunk, a line at a time.
    const readers = [this.#child.stdout, this.#child.stderr].map((pipe) => pipe.getReader({ mode: "byob" }));
    const pipes = Promise.all([this.#pipe(readers[0]!, "stdout"), this.#pipe(readers[1]!, "stderr")]);
    const child = this.#child;
    const api = this.#api;
    this.closed = (async () => {
      this.#exit = await child.status;
      clearTimeout(this.#initTimer);
      // The runtime's exit ends its sandbox: what is left of its process group is killed, and the
      // pipes are read only for what was already written, not for as long as an escaped child holds them.
      this.#killGroup();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((res) => timer = setTimeout(() => res("late"), OUTPUT_GRACE_MS));
      // The channel's output is read to its end too, once the runtime has connected (it never will now).
      const output = Promise.all([pipes, api.channel?.connected ? api.channel.drained : undefined]);
      if (await Promise.race([output, late]) === "late") {
        for (const r of readers) r.cancel().catch(() => {});
      }
      clearTimeout(timer);
      for (const name of ["stdout", "stderr"] as const) this.#channelLines[name].end(this.#emit[name]);
      this.#exited();
      await api.close();
    })();
  }

  /** Whether the process runs and can take an invocation. */
  get alive(): boolean {
    return this.#exit === undefined && !this.#killing;
  }

  /**
   * Hands one invocation to the process (which must be idle). `id` is the
   * invocation's request id (the function's `awsRequestId`); `onDelivered`
   * hears when the runtime took the event.
   */
  run(
    payload: Uint8Array,
    traceId: string | undefined,
    id: string = crypto.randomUUID(),
    onDelivered?: () => void,
  ): Run {
    let answered = false;
    let done = false;
    let resolveAnswer!: (a: Answer) => void;
    let rejectAnswer!: (e: unknown) => void;
    let resolveFinished!: () => void;
    const answer = new Promise<Answer>((res, rej) => [resolveAnswer, rejectAnswer] = [res, rej]);
    const finished = new Promise<void>((res) => resolveFinished = res);
    const rule = this.#spec.rule;
    const fields = { function: rule.name, requestId: id };
    const current: Current = {
      id,
      deliveredAt: undefined,
      timer: undefined,
      fail: (err) => {
        if (!answered) {
          answered = true;
          rejectAnswer(err);
        }
      },
      finish: (endedAt = performance.now()) => {
        if (done) return;
        done = true;
        current.timer?.cancel();
        if (this.#current === current) this.#current = undefined;
        if (current.deliveredAt !== undefined) this.#report(current, fields, endedAt);
        resolveFinished();
      },
    };
    const inv: Invocation = {
      id,
      payload,
      deadlineMs: Date.now() + rule.timeoutMs,
      traceId,
      delivered: () => {
        current.deliveredAt = performance.now();
        this.#lastRequestId = id;
        inv.deadlineMs = Date.now() + rule.timeoutMs;
        this.#spec.log.info(`START RequestId: ${id} Version: $LATEST`, fields);
        onDelivered?.();
        current.timer = this.#spec.timeouts.add(() => this.#timeout(current));
      },
      answer: (a) => {
        if (answered) return;
        answered = true;
        resolveAnswer(a);
      },
      finished: (inOrder) => {
        const endedAt = performance.now();
        current.timer?.cancel();
        // END and REPORT follow what the runtime wrote before it answered. An answer over the channel comes
        // behind the output sent there; only output in the pipes may still be on its way.
        if (inOrder && !this.#pipesSpoke) current.finish(endedAt);
        else void this.#settle().then(() => current.finish(endedAt));
      },
    };
    this.#current = current;
    if (!this.alive) {
      current.fail(exitError(this.#spec.rule.name, id, this.#exit));
      current.finish();
    } else this.#api.assign(inv);
    return { answer, finished };
  }

  /** Kills the process (its group with setsid); resolves once it is gone. */
  kill(): Promise<void> {
    if (this.#exit === undefined && !this.#killing) {
      this.#killing = true;
      try {
        if (this.#setsid) Deno.kill(-this.pid, "SIGKILL");
        else this.#child.kill("SIGKILL");
      } catch {
        try {
          this.#child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    return this.closed;
  }

  /** Kills what is left of the exited runtime's group (Linux reuses no pid while its group exists). */
  #killGroup(): void {
    if (!this.#setsid) return;
    try {
      Deno.kill(-this.pid, "SIGKILL");
    } catch {
      // no member left
    }
  }

  #timeout(current: Current): void {
    const seconds = (this.#spec.rule.timeoutMs / 1000).toFixed(2);
    const message = `Task timed out after ${seconds} seconds`;
    this.#spec.log.warn(`${current.id} ${message}`, {
      function: this.#spec.rule.name,
      requestId: current.id,
    });
    current.fail(
      new LrpError(
        "function_timeout",
        `Cannot finish ${this.#spec.rule.name}: ${message}: the function's timeout is ${
          this.#spec.rule.timeoutMs / 1000
        } s (timeout: in its rule)`,
      ),
    );
    void this.kill();
  }

  #initFailed(bytes: Uint8Array, errorType: string): void {
    const text = new TextDecoder().decode(bytes.subarray(0, 4096));
    let detail: unknown = text;
    try {
      detail = JSON.parse(text);
    } catch {
      // kept as text
    }
    const message = typeof (detail as { errorMessage?: unknown })?.errorMessage === "string"
      ? (detail as { errorMessage: string }).errorMessage
      : text;
    this.#spec.log.error(`INIT_REPORT Phase: init Status: error Error Type: ${errorType}`, {
      function: this.#spec.rule.name,
      errorType,
      errorMessage: message,
    });
    // As for a thrown error, the client sees the error itself (message, stack trace) only with error_details.
    this.#fail(
      new LrpError(
        "function_error",
        `Cannot invoke ${this.#spec.rule.name}: its initialisation failed with ${errorType} (lrp's log has the error in its INIT_REPORT line; error_details: true shows it in this answer)`,
        { detail },
      ),
    );
    void this.kill();
  }

  #fail(err: LrpError): void {
    const current = this.#current;
    if (!current) return;
    current.fail(err);
  }

  #exited(): void {
    const current = this.#current;
    if (!current) return;
    if (!this.#killing) {
      this.#spec.log.error(exitError(this.#spec.rule.name, current.id, this.#exit).message, {
        function: this.#spec.rule.name,
        requestId: current.id,
      });
    }
    current.fail(exitError(this.#spec.rule.name, current.id, this.#exit));
    current.finish();
  }

  /**
   * Resolves once the output pipes have been read up to now: when a turn of the event loop brings no
   * new chunk twice in a row (a chunk already in a pipe is read within a turn), or after
   * {@linkcode SETTLE_MAX_MS} for a runtime that keeps writing.
   */
  async #settle(): Promise<void> {
    const until = performance.now() + SETTLE_MAX_MS;
    for (let quiet = 0; quiet < 2 && this.#exit === undefined && performance.now() < until;) {
      const seen = this.#chunks;
      await nextTurn();
      quiet = this.#chunks === seen ? quiet + 1 : 0;
    }
  }

  #report(current: Current, fields: Record<string, unknown>, endedAt: number): void {
    const durationMs = endedAt - current.deliveredAt!;
    const initMs = this.#reportedInit ? undefined : this.#initMs;
    this.#reportedInit = true;
    const memoryMb = this.#exit === undefined ? this.#memory.mb(endedAt) : undefined;
    const log = this.#spec.log;
    log.info(`END RequestId: ${current.id}`, fields);
    log.info(reportLine(current.id, durationMs, this.#spec.rule.memoryMb, memoryMb, initMs), {
      ...fields,
      durationMs: Math.round(durationMs * 100) / 100,
      ...(initMs !== undefined && { initDurationMs: Math.round(initMs * 100) / 100 }),
      ...(memoryMb !== undefined && { maxMemoryUsedMb: memoryMb }),
    });
  }

  /** Logs one output line of `name`, under the invocation the runtime took last. */
  #emitter(name: "stdout" | "stderr"): (line: OutputLine) => void {
    const log = this.#spec.log;
    const write = log.output ?? log.info;
    return (line: OutputLine) => {
      const requestId = this.#lastRequestId;
      write.call(log, line.text, {
        function: this.#spec.rule.name,
        ...(requestId !== undefined && { requestId }),
        stream: name,
        ...(line.truncated && { truncated: true, lineBytes: line.bytes }),
      });
    };
  }

  async #pipe(reader: ReadableStreamBYOBReader, name: "stdout" | "stderr"): Promise<void> {
    const emit = this.#emit[name];
    const lines = new LineSplitter();
    let buffer = new ArrayBuffer(PIPE_READ_BYTES);
    try {
      for (let r; !(r = await reader.read(new Uint8Array(buffer))).done;) {
        this.#chunks++;
        if (this.#lastRequestId !== undefined) this.#pipesSpoke = true;
        lines.push(r.value, emit);
        buffer = r.value.buffer as ArrayBuffer;
      }
    } catch {
      // the pipe broke with the process, or was given up; what was read is logged
    }
    lines.end(emit);
  }
}

interface Current {
  id: string;
  deliveredAt: number | undefined;
  timer: Deadline | undefined;
  fail(err: unknown): void;
  /** Ends the invocation (once): END and REPORT, timed to `endedAt`, then the process is free. */
  finish(endedAt?: number): void;
}
