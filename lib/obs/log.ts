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
}

/**
 * Creates a logger writing lines at `level` and above to `sink`. Every line
 * has `time` (ISO 8601), `level` and `msg` first.
 */
export function createLogger(level: LogLevel, sink: (line: string) => void): Logger {
  const min = LOG_LEVELS.indexOf(level);
  const at = (l: LogLevel) => {
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
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
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
export interface BufferedSink {
  /** Queues one line (a newline is added). */
  write(line: string): void;
  /** Resolves when every queued line is written. */
  flush(): Promise<void>;
  /** Lines dropped because the writer fell more than the limit behind. */
  readonly dropped: number;
}

const lineEncoder = new TextEncoder();

/**
 * Batches log lines and writes them with one asynchronous write per batch,
 * so the request path never waits for a synchronous `write(2)` (measured at
 * 10–15 % of lrp's throughput with one access line per request). A batch
 * collects lines for `delayMs` (an unref'd timer: it never keeps the process
 * alive) so that a proxy serving one request at a time still writes many lines
 * per syscall; `flush()` writes at once. If the writer falls more than
 * `maxBufferedBytes` behind, further lines are dropped and counted rather
 * than growing memory.
 */
export function createBufferedSink(
  writer: { write(p: Uint8Array): Promise<number> },
  maxBufferedBytes = 4 * 1024 * 1024,
  delayMs = 0,
): BufferedSink {
  let lines: string[] = [];
  let size = 0;
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = async () => {
    while (lines.length > 0) {
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
  return {
    write(line) {
      if (size > maxBufferedBytes) {
        dropped++;
        return;
      }
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
