/**
 * Setting values: the kinds a setting can have and the conversion of a raw
 * value (a YAML value, a flag or an environment variable) to its type, with
 * one {@linkcode ConfigError} naming where the value came from.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel } from "../obs/log.ts";
import { parseCidr, parseIp } from "../route/forwarded.ts";
import { ConfigError } from "./types.ts";

/** The type of a setting's value. */
export type Kind =
  | "string"
  | "port"
  | "duration"
  | "size"
  | "boolean"
  | "level"
  | "prefix"
  | "count"
  | "url"
  | "cidrs"
  | "workers"
  | "hosts"
  | "headers";

/** The most serving processes `workers` accepts. */
export const MAX_WORKERS = 256;

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};
const MAX_TIMER_MS = 2 ** 31 - 1;
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Converts a setting's raw value (YAML value or string) to its type, or throws naming `where`. */
// deno-lint-ignore no-explicit-any
export function convert(kind: Kind, raw: unknown, where: string): any {
  const text = typeof raw === "string" ? raw.trim() : raw;
  const fail = (expected: string): never => {
    throw new ConfigError(`${where}: ${JSON.stringify(raw)} ${expected}`);
  };
  switch (kind) {
    case "string":
      if (typeof text !== "string" && typeof text !== "number") fail("must be a string");
      return String(text);
    case "port": {
      const n = typeof text === "number" ? text : /^\d+$/.test(String(text)) ? Number(text) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > 65535) fail("must be a port number from 0 to 65535");
      return n;
    }
    case "count": {
      const n = typeof text === "number" ? text : /^\d+$/.test(String(text)) ? Number(text) : NaN;
      if (!Number.isInteger(n) || n < 1) fail("must be a whole number of at least 1");
      return n;
    }
    case "duration": {
      const m = typeof text === "string" ? DURATION.exec(text) : null;
      const ms = typeof text === "number" && text > 0
        ? Math.round(text * 1000)
        : m && Number(m[1]) > 0
        ? Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? "s"]!)
        : fail(`must be a duration such as 30s, 500ms or 2m (a number means seconds)`);
      // Timers cannot wait longer: a larger value would fire at once.
      if (ms > MAX_TIMER_MS) fail(`is longer than timers allow (${MAX_TIMER_MS} ms, about 24 days)`);
      return ms;
    }
    case "size": {
      if (typeof text === "number" && Number.isInteger(text) && text > 0) return text;
      const m = typeof text === "string" ? SIZE.exec(text) : null;
      if (!m || Number(m[1]) <= 0) return fail("must be a size such as 6MB, 512KB or a number of bytes");
      return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? "b").toLowerCase()]!);
    }
    case "boolean":
      if (typeof text === "boolean") return text;
      if (text === "true" || text === "1" || text === "yes") return true;
      if (text === "false" || text === "0" || text === "no") return false;
      return fail("must be true or false");
    case "level":
      if (!LOG_LEVELS.includes(text as LogLevel)) fail(`must be one of ${LOG_LEVELS.join(", ")}`);
      return text;
    case "url": {
      if (typeof text !== "string") return fail("must be a URL string");
      if (text === "") return "";
      try {
        const url = new URL(text);
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError();
      } catch {
        return fail("must be an http(s) URL such as http://127.0.0.1:9001");
      }
      return text.replace(/\/+$/, "");
    }
    case "cidrs":
      return listOf(raw, text, "CIDRs such as 10.0.0.0/8", where).map((item) => {
        try {
          parseCidr(item);
          return item;
        } catch (err) {
          throw new ConfigError(`${where}: ${(err as Error).message}`);
        }
      });
    case "workers": {
      if (text === "auto") return "auto";
      const n = typeof text === "number" ? text : /^\d+$/.test(String(text)) ? Number(text) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
        fail(`must be auto or a whole number from 1 to ${MAX_WORKERS}`);
      }
      return n;
    }
    case "hosts":
      return listOf(raw, text, "host names or CIDRs such as lrp.internal, 10.0.0.0/8", where).map((item) => {
        const entry = item.toLowerCase();
        if (parseIp(entry.split("/")[0]!) !== undefined) {
          try {
            parseCidr(entry);
          } catch (err) {
            throw new ConfigError(`${where}: ${(err as Error).message}`);
          }
          return entry;
        }
        if (!/^[a-z0-9.-]+$/.test(entry)) {
          throw new ConfigError(`${where}: ${JSON.stringify(item)} is not a host name or CIDR`);
        }
        return entry;
      });
    case "headers":
      return listOf(raw, text, "header names such as x-api-key", where).map((name) => {
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) {
          throw new ConfigError(`${where}: ${JSON.stringify(name)} is not an HTTP header name`);
        }
        return name.toLowerCase();
      });
    case "prefix": {
      if (typeof text !== "string") return fail("must be a string");
      const trimmed = text.replace(/^\/+|\/+$/g, "");
      if (trimmed === "") return "";
      if (!/^[A-Za-z0-9._~\/-]+$/.test(trimmed)) fail("must be a plain path segment such as _lrp");
      return `/${trimmed}`;
    }
  }
}

/**
 * A list setting's items, trimmed: a YAML list, or one comma-separated
 * string (a flag or an environment variable). Empty items are dropped.
 */
function listOf(raw: unknown, text: unknown, what: string, where: string): string[] {
  const items = Array.isArray(raw) ? raw : typeof text === "string" ? text.split(",") : [raw];
  return items.map((item: unknown) => {
    if (typeof item !== "string") {
      throw new ConfigError(`${where}: ${JSON.stringify(item)} must be a list of ${what}`);
    }
    return item.trim();
  }).filter((item) => item !== "");
}
