/**
 * Every top-level setting, declared once in {@linkcode SETTINGS} (YAML key,
 * flag, environment variable, default, help), and the conversion of a raw
 * value to its type. Precedence is flag > `LRP_*` environment variable >
 * file > default.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel } from "../obs/log.ts";
import { parseCidr, parseIp } from "../route/forwarded.ts";
import { type Config, ConfigError } from "./types.ts";

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

/** One top-level setting, declared once for file, flag, environment and help. */
export interface Setting {
  /** Key in `lrp.yaml`. */
  key: string;
  /** Field of {@linkcode Config}. */
  field: keyof Config;
  /** Command-line flag, without `--`. */
  flag: string;
  /** Environment variable. */
  env: string;
  kind: Kind;
  default: string;
  help: string;
  /** The flag takes no value (`--watch`): present means `"true"`. */
  switch?: boolean;
  /** Flag and environment variable say the opposite of the key (`--disable-metrics` vs `metrics`). */
  inverse?: boolean;
}

/** Every top-level setting. */
export const SETTINGS: readonly Setting[] = [
  {
    key: "host",
    field: "host",
    flag: "host",
    env: "LRP_HOST",
    kind: "string",
    default: "0.0.0.0",
    help: "address to listen on",
  },
  {
    key: "port",
    field: "port",
    flag: "port",
    env: "LRP_PORT",
    kind: "port",
    default: "8080",
    help: "port to listen on (0 picks a free one)",
  },
  {
    key: "region",
    field: "region",
    flag: "region",
    env: "LRP_REGION",
    kind: "string",
    default: "",
    help:
      "AWS region of aws rules without an ARN region (else AWS_REGION, AWS_DEFAULT_REGION, profile, eu-central-1)",
  },
  {
    key: "endpoint_url",
    field: "endpointUrl",
    flag: "endpoint-url",
    env: "LRP_ENDPOINT_URL",
    kind: "url",
    default: "",
    help: "Lambda API endpoint (else AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL)",
  },
  {
    key: "aws_profile",
    field: "awsProfile",
    flag: "aws-profile",
    env: "LRP_AWS_PROFILE",
    kind: "string",
    default: "",
    help: "AWS shared-config profile for credentials (else AWS_PROFILE)",
  },
  {
    key: "trusted_proxies",
    field: "trustedProxies",
    flag: "trusted-proxies",
    env: "LRP_TRUSTED_PROXIES",
    kind: "cidrs",
    default: "",
    help: "CIDRs of proxies whose Forwarded/X-Forwarded-Host picks the route (comma-separated)",
  },
  {
    key: "trust_forwarded_host",
    field: "trustForwardedHost",
    flag: "trust-forwarded-host",
    env: "LRP_TRUST_FORWARDED_HOST",
    kind: "boolean",
    default: "false",
    help: "route by Forwarded/X-Forwarded-Host from any peer",
    switch: true,
  },
  {
    key: "internal_route_prefix",
    field: "internalRoutePrefix",
    flag: "internal-route-prefix",
    env: "LRP_INTERNAL_ROUTE_PREFIX",
    kind: "prefix",
    default: "",
    help: "path prefix of /ping, /healthz, /metrics",
  },
  {
    key: "log_level",
    field: "logLevel",
    flag: "log-level",
    env: "LRP_LOG_LEVEL",
    kind: "level",
    default: "info",
    help: "debug, info, warn or error",
  },
  {
    key: "upstream_timeout",
    field: "upstreamTimeoutMs",
    flag: "upstream-timeout",
    env: "LRP_UPSTREAM_TIMEOUT",
    kind: "duration",
    default: "30s",
    help: "longest wait for a function's answer (then 504)",
  },
  {
    key: "max_body_size",
    field: "maxBodyBytes",
    flag: "max-body-size",
    env: "LRP_MAX_BODY_SIZE",
    kind: "size",
    default: "6MB",
    help: "largest request body (then 413)",
  },
  {
    key: "body_timeout",
    field: "bodyTimeoutMs",
    flag: "body-timeout",
    env: "LRP_BODY_TIMEOUT",
    kind: "duration",
    default: "30s",
    help: "longest time to receive a request body (then 408)",
  },
  {
    key: "error_details",
    field: "errorDetails",
    flag: "error-details",
    env: "LRP_ERROR_DETAILS",
    kind: "boolean",
    default: "false",
    help: "show function error JSON and upstream messages to clients",
    switch: true,
  },
  {
    key: "shutdown_timeout",
    field: "shutdownTimeoutMs",
    flag: "shutdown-timeout",
    env: "LRP_SHUTDOWN_TIMEOUT",
    kind: "duration",
    default: "30s",
    help: "longest wait for in-flight requests on SIGINT/SIGTERM",
  },
  {
    key: "queue_limit",
    field: "queueLimit",
    flag: "queue-limit",
    env: "LRP_QUEUE_LIMIT",
    kind: "count",
    default: "1000",
    help: "requests that may wait per local endpoint (then 503)",
  },
  {
    key: "queue_timeout",
    field: "queueTimeoutMs",
    flag: "queue-timeout",
    env: "LRP_QUEUE_TIMEOUT",
    kind: "duration",
    default: "30s",
    help: "longest wait for a local endpoint slot (then 503)",
  },
  {
    key: "max_in_flight",
    field: "maxInFlight",
    flag: "max-in-flight",
    env: "LRP_MAX_IN_FLIGHT",
    kind: "count",
    default: "1000",
    help: "requests handled at once across all routes (then 503)",
  },
  {
    key: "max_in_flight_bytes",
    field: "maxInFlightBytes",
    flag: "max-in-flight-bytes",
    env: "LRP_MAX_IN_FLIGHT_BYTES",
    kind: "size",
    default: "96MB",
    help: "request-body bytes held at once across all routes (then 503)",
  },
  {
    key: "metrics",
    field: "metrics",
    flag: "disable-metrics",
    env: "LRP_DISABLE_METRICS",
    kind: "boolean",
    default: "true",
    help: "do not serve Prometheus metrics at {prefix}/metrics (file: metrics: false)",
    switch: true,
    inverse: true,
  },
  {
    key: "watch_config",
    field: "watchConfig",
    flag: "watch",
    env: "LRP_WATCH_CONFIG",
    kind: "boolean",
    default: "false",
    help: "reload the configuration when its file changes (SIGHUP always reloads)",
    switch: true,
  },
  {
    key: "workers",
    field: "workers",
    flag: "workers",
    env: "LRP_WORKERS",
    kind: "workers",
    default: "1",
    help: "serving processes sharing the port, or auto (one per CPU); Linux only above 1",
  },
  {
    key: "max_result_headers",
    field: "maxResultHeaders",
    flag: "max-result-headers",
    env: "LRP_MAX_RESULT_HEADERS",
    kind: "count",
    default: "100",
    help: "most header lines (cookies included) a function result may set (then 502)",
  },
  {
    key: "max_result_header_bytes",
    field: "maxResultHeaderBytes",
    flag: "max-result-header-bytes",
    env: "LRP_MAX_RESULT_HEADER_BYTES",
    kind: "size",
    default: "60KiB",
    help: "largest header block a function result may set (then 502)",
  },
  {
    key: "allow_empty_reload",
    field: "allowEmptyReload",
    flag: "allow-empty-reload",
    env: "LRP_ALLOW_EMPTY_RELOAD",
    kind: "boolean",
    default: "false",
    help: "accept a reloaded configuration with no routes (else it is refused and the old one kept)",
    switch: true,
  },
  {
    key: "internal_hosts",
    field: "internalHosts",
    flag: "internal-hosts",
    env: "LRP_INTERNAL_HOSTS",
    kind: "hosts",
    default: "",
    help: "Host names and peer CIDRs that may reach /ping, /healthz, /metrics (comma-separated; empty: all)",
  },
  {
    key: "metrics_endpoint_labels",
    field: "metricsEndpointLabels",
    flag: "metrics-endpoint-labels",
    env: "LRP_METRICS_ENDPOINT_LABELS",
    kind: "boolean",
    default: "false",
    help: "label /metrics series with endpoint URLs and function names",
    switch: true,
  },
  {
    key: "inspect",
    field: "inspect",
    flag: "inspect",
    env: "LRP_INSPECT",
    kind: "boolean",
    default: "false",
    help: "serve the live inspector page at {prefix}/inspect (on in lrp demo)",
    switch: true,
  },
  {
    key: "inspect_buffer",
    field: "inspectBuffer",
    flag: "inspect-buffer",
    env: "LRP_INSPECT_BUFFER",
    kind: "count",
    default: "200",
    help: "exchanges the inspector keeps (the oldest go first)",
  },
  {
    key: "inspect_body_limit",
    field: "inspectBodyLimit",
    flag: "inspect-body-limit",
    env: "LRP_INSPECT_BODY_LIMIT",
    kind: "size",
    default: "64KB",
    help: "bytes the inspector keeps of each body, event and result (the rest is marked truncated)",
  },
  {
    key: "redact",
    field: "redact",
    flag: "redact",
    env: "LRP_REDACT",
    kind: "headers",
    default: "",
    help: "more header names the inspector shows as ‹redacted› (comma-separated)",
  },
  {
    key: "inspect_show_secrets",
    field: "inspectShowSecrets",
    flag: "inspect-show-secrets",
    env: "LRP_INSPECT_SHOW_SECRETS",
    kind: "boolean",
    default: "false",
    help: "show Authorization, cookies and redact headers in the inspector",
    switch: true,
  },
];

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
