/**
 * How a runtime process is confined where the OS allows it, without a
 * container: its own process group (`setsid`), and its memory bounded near
 * the rule's `memory` through `RLIMIT_DATA` (`prlimit`, util-linux).
 *
 * `RLIMIT_DATA` counts the process's writable private memory (heap, `mmap`ed
 * buffers), not the address space it only reserves, so Node.js and Python
 * start under it and fail an allocation beyond it (`RangeError: Array buffer
 * allocation failed`, `MemoryError`). Deno's V8 cannot start under it (its
 * code range is reserved writable), and `RLIMIT_AS` breaks every V8 runtime,
 * so `deno` functions keep only V8's heap limit.
 *
 * @module
 */

import type { FunctionRule } from "../route/rule.ts";
import { onPath } from "./interpreters.ts";

/** Where `prlimit` is, on Linux; `undefined` elsewhere or when util-linux lacks it. */
export function prlimitPath(): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  return ["/usr/bin/prlimit", "/bin/prlimit"].find((p) => onPath(p));
}

/**
 * What `RLIMIT_DATA` allows beyond the rule's memory, MB. Writable mappings run ahead of resident
 * memory (V8's compiler zones, the malloc arenas of a runtime's threads): at exactly `memory`, a
 * 128 MB Node.js function under load died in V8's optimizing compiler while Lambda would have run it.
 */
export const DATA_HEADROOM_MB = 128;

/** The runtimes whose memory `RLIMIT_DATA` bounds (see the module doc). */
export const DATA_LIMITED_RUNTIMES: readonly FunctionRule["runtime"][] = ["nodejs", "python", "provided"];

/**
 * The command line that starts `command` for `rule`, confined: in its own
 * session and process group when `setsid` is there, with `RLIMIT_DATA` at
 * the rule's memory plus headroom when `prlimit` is there and the runtime runs under it.
 * Each wrapper `exec`s the next, so the pid is the runtime's.
 */
export function confinedCommand(
  rule: Pick<FunctionRule, "runtime" | "memoryMb">,
  command: string[],
  tools: { setsid: boolean; prlimit: string | undefined },
): string[] {
  const limit = tools.prlimit && DATA_LIMITED_RUNTIMES.includes(rule.runtime)
    ? [tools.prlimit, `--data=${(rule.memoryMb + DATA_HEADROOM_MB) * 1024 * 1024}`, "--"]
    : [];
  return [...(tools.setsid ? ["setsid"] : []), ...limit, ...command];
}
