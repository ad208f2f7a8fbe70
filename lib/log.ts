/**
 * Structured logging: one JSON object per line, with levels. The sink is
 * injected, so tests capture lines and `main.ts` writes them to stderr.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel } from "./config.ts";

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
    return (msg: string, fields?: LogFields) => {
      if (!on) return;
      sink(JSON.stringify({ time: new Date().toISOString(), level: l, msg, ...fields }));
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

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger("error", () => {});
