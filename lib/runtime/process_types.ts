/**
 * What a runtime process is started with and gives back: its spec, one
 * invocation's run, and the time limits of its start, output and END.
 *
 * @module
 */

import { LrpError } from "../errors.ts";
import type { Deadlines } from "../invoke/deadline.ts";
import type { Logger } from "../obs/log.ts";
import type { FunctionRule } from "../route/rule.ts";
import type { Answer } from "./api.ts";

/**
 * Longest initialisation (until the runtime's first `next`): Lambda's 10
 * seconds. A runtime still starting then is killed and the invocation fails.
 */
export const INIT_TIMEOUT_MS = 10_000;

/**
 * How long an exited runtime's output is still read: what it wrote before it exited is in the pipes
 * already; a child that escaped its process group and holds them open is not waited for.
 */
export const OUTPUT_GRACE_MS = 200;

/** The buffer each output pipe is read into (a pipe holds 64 KiB). */
export const PIPE_READ_BYTES = 64 * 1024;

/** The longest an invocation's END waits for the output it wrote before answering (see `RuntimeProcess`'s `#settle`). */
export const SETTLE_MAX_MS = 50;

/** How to start one process. */
export interface ProcessSpec {
  rule: FunctionRule;
  /** argv: the interpreter and its arguments, or the bootstrap, behind its wrappers (`confinedCommand`). */
  command: string[];
  /** The whole environment (without `AWS_LAMBDA_RUNTIME_API`, which the process's listener sets). */
  env: Record<string, string>;
  /** The command starts with `setsid` (own process group, killed as one). */
  setsid: boolean;
  log: Logger;
  /** The rule's invocation timeouts (one shared timer). */
  timeouts: Deadlines;
}

/** One invocation's outcome as its caller sees it. */
export interface Run {
  /** The runtime's answer; rejects with an `LrpError` on timeout, exit or init failure. */
  answer: Promise<Answer>;
  /** Resolves when the process is free again, or gone. */
  finished: Promise<void>;
}

/** The error of an invocation whose runtime exited (`Runtime.ExitError`), with how it exited. */
export function exitError(name: string, id: string, status: Deno.CommandStatus | undefined): LrpError {
  const how = status?.signal
    ? `signal: ${status.signal === "SIGKILL" ? "killed" : status.signal}`
    : `exit status ${status?.code ?? "unknown"}`;
  const errorMessage = `RequestId: ${id} Error: Runtime exited with error: ${how}`;
  return new LrpError(
    "function_error",
    `Cannot finish ${name}: its runtime exited (Runtime.ExitError): ${errorMessage}`,
    { detail: { errorType: "Runtime.ExitError", errorMessage } },
  );
}
