/**
 * Every top-level setting, declared once in {@linkcode SETTINGS} (YAML key,
 * flag, environment variable, default, help). Precedence is flag > `LRP_*`
 * environment variable > file > default; `convert.ts` turns a raw value into
 * its type.
 *
 * @module
 */

import type { Kind } from "./convert.ts";
import type { Config } from "./types.ts";

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
