/**
 * Structured logging: one JSON object per line, with levels. The sink is
 * injected, so tests capture lines and `main.ts` writes them to stderr.
 *
 * @module
 */

import { perSecond } from "../time.ts";

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields of one log line. */
export type LogFields = Record<string, unknown>;

/** A levelled JSON-lines logger. */
export interface Logger {
  /** Whether lines of this level are written. */
  enabled(level: LogLevel): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /**
   * A function's output line, at info level. Unlike lrp's own lines it may be dropped when the log
   * writer falls behind, counted in {@linkcode Logger.droppedOutput}; absent, `info` writes it.
   */
  output?(msg: string, fields?: LogFields): void;
  /** Function output lines dropped so far (see `output`). */
  droppedOutput?(): number;
}

/** Where a logger's function output lines go: a sink that may drop them, counting. */
export interface OutputSink {
  /** Queues one line, or drops it (counted) when the writer is too far behind. */
  offer(line: string): void;
  /** Lines dropped so far. */
  readonly dropped: number;
}

/**
 * Creates a logger writing lines at `level` and above to `sink`. Every line
 * has `time` (ISO 8601), `level` and `msg` first. Function output lines go
 * to `output` when given (which may drop them), else to `sink`.
 */
export function createLogger(level: LogLevel, sink: (line: string) => void, output?: OutputSink): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: LogLevel, sink: (line: string) => void) => {
    const on = LOG_LEVELS.indexOf(l) >= min;
    const levelPart = `","level":${JSON.stringify(l)},"msg":`;
    return (msg: string, fields?: LogFields) => {
      if (!on) return;
      if (fields && ("time" in fields || "level" in fields || "msg" in fields)) {
        sink(JSON.stringify({ time: isoNow(), level: l, msg, ...fields }));
        return;
      }
      // The same line as JSON.stringify of { time, level, msg, ...fields }, without building that object.
      const rest = fields === undefined ? "}" : JSON.stringify(fields);
      sink(
        `{"time":"${isoNow()}${levelPart}${JSON.stringify(msg)}${
          rest.length > 2 ? "," + rest.slice(1) : "}"
        }`,
      );
    };
  };
  return {
    enabled: (l) => LOG_LEVELS.indexOf(l) >= min,
    debug: at("debug", sink),
    info: at("info", sink),
    warn: at("warn", sink),
    error: at("error", sink),
    ...(output && { output: at("info", (line) => output.offer(line)), droppedOutput: () => output.dropped }),
  };
}

/** The ISO time's date and time up to the second (`2026-12-01T06:42:26.`). */
const isoPrefix = perSecond((ms) => new Date(ms).toISOString().slice(0, 20));

/** `new Date().toISOString()`, its date and time up to the second formatted once a second. */
function isoNow(): string {
  const ms = Date.now();
  const frac = ms % 1000;
  return `${isoPrefix(ms)}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}Z`;
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger("error", () => {});

/** A sink that batches lines and writes them asynchronously. */
export interface BufferedSink extends OutputSink {
  /** Queues one line (a newline is added); never drops it. */
  write(line: string): void;
  /** Resolves when every queued line is written. */
  flush(): Promise<void>;
}

const lineEncoder = new TextEncoder();

/**
 * Batches log lines and writes them with one asynchronous write per batch,
 * so the request path never waits for a synchronous `write(2)` (measured at
 * 10–15 % of lrp's throughput with one access line per request). A batch
 * collects lines for `delayMs` (an unref'd timer: it never keeps the process
 * alive) so that a proxy serving one request at a time still writes many lines
 * per syscall; `flush()` writes at once. lrp's own lines (`write`) are
 * never dropped; function output lines (`offer`) are dropped and counted
 * while the writer is more than `maxBufferedBytes` behind, so a function
 * flooding its output cannot grow lrp's memory, and once the backlog is
 * written a warning line says how many were lost.
 */
export function createBufferedSink(
  writer: { write(p: Uint8Array): Promise<number> },
  maxBufferedBytes = 4 * 1024 * 1024,
  delayMs = 0,
): BufferedSink {
  let lines: string[] = [];
  let size = 0;
  let dropped = 0;
  /** Drops not yet reported in a warning line. */
  let unreported = 0;
  let writing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = async () => {
    while (lines.length > 0 || unreported > 0) {
      if (unreported > 0 && size <= maxBufferedBytes) {
        lines.push(droppedLine(unreported, dropped));
        unreported = 0;
      }
      const bytes = lineEncoder.encode(lines.join(""));
      lines = [];
      size = 0;
      try {
        for (let o = 0; o < bytes.length;) o += await writer.write(bytes.subarray(o));
      } catch {
        // A closed stderr must not take the proxy down.
      }
    }
    writing = undefined;
  };
  const queue = (line: string) => {
    lines.push(line + "\n");
    size += line.length + 1;
    if (writing !== undefined || timer !== undefined) return;
    if (delayMs <= 0) writing = Promise.resolve().then(drain);
    else {
      const t = setTimeout(() => {
        timer = undefined;
        writing ??= Promise.resolve().then(drain);
      }, delayMs);
      Deno.unrefTimer(t);
      timer = t;
    }
  };
  return {
    write: queue,
    offer(line) {
      if (size > maxBufferedBytes) {
        dropped++;
        unreported++;
        return;
      }
      queue(line);
    },
    flush: () => {
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
        writing ??= Promise.resolve().then(drain);
      }
      return writing ?? Promise.resolve();
    },
    get dropped() {
      return dropped;
    },
  };
}

/** The warning written after function output lines were dropped. */
function droppedLine(count: number, total: number): string {
  return `{"time":"${isoNow()}","level":"warn","msg":${
    JSON.stringify(`${count} function output lines dropped: lrp's log writer fell behind`)
  },"dropped":${count},"droppedTotal":${total}}\n`;
}
