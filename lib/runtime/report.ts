/**
 * Lambda's `REPORT` line, and the peak memory of a runtime process it
 * carries.
 *
 * @module
 */

/**
 * `REPORT RequestId: … Duration: 1.23 ms Billed Duration: 2 ms Memory Size:
 * 128 MB Max Memory Used: 40 MB Init Duration: 95.00 ms`, tab-separated as
 * Lambda writes it. Max Memory Used is left out where it cannot be read;
 * Init Duration appears on a process's first invocation only (cold start).
 */
export function reportLine(
  requestId: string,
  durationMs: number,
  memorySizeMb: number,
  maxMemoryUsedMb: number | undefined,
  initDurationMs: number | undefined,
): string {
  const parts = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.max(1, Math.ceil(durationMs))} ms`,
    `Memory Size: ${memorySizeMb} MB`,
  ];
  if (maxMemoryUsedMb !== undefined) parts.push(`Max Memory Used: ${maxMemoryUsedMb} MB`);
  if (initDurationMs !== undefined) parts.push(`Init Duration: ${initDurationMs.toFixed(2)} ms`);
  return parts.join("\t");
}

/**
 * The process's peak resident memory in MB (`VmHWM` of `/proc/PID/status`,
 * Linux only); `undefined` where that file does not exist (macOS, Windows).
 */
export function maxMemoryUsedMb(pid: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
  const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(text)?.[1];
  return kb === undefined ? undefined : Math.ceil(Number(kb) / 1024);
}

/** How long a process's Max Memory Used is reused before `/proc` is read again: the read costs more than the rest of a warm REPORT. */
export const MEMORY_READ_INTERVAL_MS = 1000;

/** {@linkcode maxMemoryUsedMb} of one process, read at most once per {@linkcode MEMORY_READ_INTERVAL_MS}. */
export class PeakMemory {
  #pid: number;
  #mb: number | undefined;
  #readAt = -Infinity;

  /** Tracks the process `pid`. */
  constructor(pid: number) {
    this.#pid = pid;
  }

  /** The peak in MB as of `now` (`performance.now()`), at most one interval old. */
  mb(now: number): number | undefined {
    if (now - this.#readAt >= MEMORY_READ_INTERVAL_MS) {
      this.#mb = maxMemoryUsedMb(this.#pid);
      this.#readAt = now;
    }
    return this.#mb;
  }
}
