/**
 * lrp's configuration: the `lrp.yaml` of gabrielelana/lambda-reverse-proxy,
 * unchanged, plus optional keys. Every setting is declared once in
 * {@linkcode SETTINGS} (YAML key, flag, environment variable, default, help);
 * precedence is flag > `LRP_*` environment variable > file > default.
 *
 * {@linkcode parseConfig} is pure; {@linkcode loadConfig} only adds the read.
 * Every mistake is one {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

import { isMap, isScalar, LineCounter, parseDocument } from "npm:yaml@2.9.1";
import type { Node as YamlNode } from "npm:yaml@2.9.1";
import { parseCidr } from "./forwarded.ts";
import { compileHostPattern, isAllowGlob, isHostPattern, templateNames } from "./pattern.ts";

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Event/result shapes a rule can speak (reference §1–3). */
export const PAYLOAD_FORMATS = ["2.0", "1.0", "alb"] as const;
/** `2.0` (HTTP API / Function URL), `1.0` (REST API proxy) or `alb` (ALB target group). */
export type PayloadFormat = typeof PAYLOAD_FORMATS[number];

/** How a rule invokes (Function URL names): whole results, or response streaming. */
export const INVOKE_MODES = ["BUFFERED", "RESPONSE_STREAM"] as const;
/** `BUFFERED` (default) or `RESPONSE_STREAM`. */
export type InvokeMode = typeof INVOKE_MODES[number];

/** A rule that sends matching requests to a local RIE endpoint. */
export interface LocalRule {
  kind: "local";
  /** Lower-cased host name, or host pattern (`{x}.example.com`, `*`), the rule answers for. */
  hostname: string;
  /** Event and result format; absent means `2.0` (rules built in code may omit it). */
  payloadFormat?: PayloadFormat;
  /** ALB only: send and read `multiValueHeaders` / `multiValueQueryStringParameters`. */
  multiValueHeaders?: boolean;
  /** `RESPONSE_STREAM` passes the function's stream through as it arrives; absent means `BUFFERED`. */
  invokeMode?: InvokeMode;
  /** Base URL of the RIE (no trailing slash). */
  endpoint: string;
  /** Invocations in flight at once (RIE: 1). */
  concurrency: number;
  /** Requests allowed to wait for a slot. */
  queueLimit: number;
  /** Longest wait for a slot, ms. */
  queueTimeoutMs: number;
  /** Line of the rule in the file (0 when not from a file). */
  line: number;
}

/** A rule that invokes a function through the AWS Lambda Invoke API. */
export interface AwsRule {
  kind: "aws";
  /** Lower-cased host name, or host pattern (`{alias}.example.com`, `*`). */
  hostname: string;
  payloadFormat?: PayloadFormat;
  multiValueHeaders?: boolean;
  invokeMode?: InvokeMode;
  /**
   * Name, `name:alias`, or full/partial ARN; may use the host pattern's
   * placeholders (`example:{alias}`). Absent when only a header names the function.
   */
  functionName?: string;
  /** Version or alias, when given separately; may use placeholders. */
  qualifier?: string;
  /** Lower-cased request header naming the function (that-lambda-proxy style). */
  functionHeader?: string;
  /** Lower-cased request header naming the qualifier. */
  qualifierHeader?: string;
  /**
   * Globs a function chosen by the request (placeholder or header) must
   * match, as `name` or `name:qualifier`; empty for fixed functions.
   */
  allow: string[];
  line: number;
}

/** A routing rule. */
export type Rule = LocalRule | AwsRule;

/** The complete, validated configuration. */
export interface Config {
  /** Where the configuration came from (a path, or `<defaults>`). */
  source: string;
  /** AWS region of aws rules without an ARN region; `""` leaves it to the SDK (profile). */
  region: string;
  /** Lambda API endpoint override; `""` leaves it to the SDK (`AWS_ENDPOINT_URL_LAMBDA`, …). */
  endpointUrl: string;
  /** Shared-config profile for AWS credentials; `""` leaves it to the SDK (`AWS_PROFILE`). */
  awsProfile: string;
  /** Peers (CIDRs) whose `Forwarded` / `X-Forwarded-Host` picks the route. */
  trustedProxies: string[];
  /** Believe `Forwarded` / `X-Forwarded-Host` from every peer. */
  trustForwardedHost: boolean;
  host: string;
  port: number;
  /** Internal routes live under this prefix: `""` or `/something`. */
  internalRoutePrefix: string;
  logLevel: LogLevel;
  upstreamTimeoutMs: number;
  maxBodyBytes: number;
  /** Longest time to receive a request body, ms (then 408). */
  bodyTimeoutMs: number;
  errorDetails: boolean;
  shutdownTimeoutMs: number;
  /** Defaults for local rules that do not set their own. */
  queueLimit: number;
  queueTimeoutMs: number;
  /** Serve Prometheus metrics at `{prefix}/metrics`. */
  metrics: boolean;
  /** Reload the configuration when its file changes. */
  watchConfig: boolean;
  rules: Rule[];
}

/** A configuration mistake; the message names the source, line and key path. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Kind =
  | "string"
  | "port"
  | "duration"
  | "size"
  | "boolean"
  | "level"
  | "prefix"
  | "count"
  | "url"
  | "cidrs";

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
];

/** Keys of a `local:` rule. */
const LOCAL_KEYS = [
  "hostname",
  "endpoint",
  "concurrency",
  "queue_limit",
  "queue_timeout",
  "payload_format",
  "multi_value_headers",
  "invoke_mode",
];
/** Keys of an `aws:` rule. */
const AWS_KEYS = [
  "hostname",
  "function_name",
  "qualifier",
  "function_header",
  "qualifier_header",
  "allow",
  "payload_format",
  "multi_value_headers",
  "invoke_mode",
];
const TOP_KEYS = new Set([...SETTINGS.map((s) => s.key), "local", "aws"]);

/** Where values come from besides the file. */
export interface ConfigInputs {
  /** Name used in messages, usually the file path. */
  source: string;
  /** Environment (`LRP_*` variables are read). */
  env?: Record<string, string | undefined>;
  /** Flag values by flag name (`port`, `log-level`, …). */
  flags?: Record<string, string | undefined>;
}

type Loc = (path: (string | number)[]) => string;

/**
 * Parses and validates `lrp.yaml` text. An empty text gives the defaults and
 * no rules. Throws {@linkcode ConfigError}.
 */
export function parseConfig(text: string, inputs: ConfigInputs): Config {
  const { source } = inputs;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const pos = lines.linePos(e.pos[0]);
    throw new ConfigError(`${source}:${pos.line}: YAML syntax error: ${e.message.split("\n")[0]}`);
  }
  const lineOf = (node: unknown): number => {
    const range = (node as YamlNode | undefined)?.range;
    return range ? lines.linePos(range[0]).line : 0;
  };
  const loc: Loc = (path) => {
    let line = 0;
    for (let i = path.length; i >= 0 && line === 0; i--) line = lineOf(doc.getIn(path.slice(0, i), true));
    return `${source}:${line || 1}: ${
      path.map((p) => typeof p === "number" ? `[${p}]` : p).join(".").replace(/\.\[/g, "[")
    }`;
  };
  const root = doc.contents;
  if (root !== null && !isMap(root)) {
    if (!(isScalar(root) && root.value === null)) {
      throw new ConfigError(`${source}:1: the file must be a YAML mapping`);
    }
  }
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(data)) {
    if (!TOP_KEYS.has(key)) {
      throw new ConfigError(`${loc([key])}: unknown key (known: ${[...TOP_KEYS].join(", ")})`);
    }
  }

  const config = { source } as Config;
  const record = config as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const flag = inputs.flags?.[s.flag];
    const env = inputs.env?.[s.env];
    const flip = (v: unknown) => s.inverse ? !v : v;
    if (flag !== undefined) record[s.field] = flip(convert(s.kind, flag, `flag --${s.flag}`));
    else if (env !== undefined && env !== "") {
      record[s.field] = flip(convert(s.kind, env, `environment ${s.env}`));
    } else if (data[s.key] !== undefined && data[s.key] !== null) {
      record[s.field] = convert(s.kind, data[s.key], loc([s.key]));
    } else record[s.field] = convert(s.kind, s.default, `default of ${s.key}`);
  }
  // The JS SDK reads only AWS_REGION; lrp also honours the CLI's AWS_DEFAULT_REGION. Still
  // empty, the SDK's own chain (the profile's region) decides, and lambda-reverse-proxy's
  // eu-central-1 comes last (`LambdaClients`), so its lrp.yaml files mean what they meant.
  if (config.region === "") config.region = inputs.env?.AWS_REGION || inputs.env?.AWS_DEFAULT_REGION || "";
  // The SDK's own endpoint precedence (reference §7.2), resolved here because lrp's
  // direct Invoke path needs the URL itself.
  if (config.endpointUrl === "") {
    config.endpointUrl = inputs.env?.AWS_ENDPOINT_URL_LAMBDA || inputs.env?.AWS_ENDPOINT_URL || "";
  }

  const rules: Rule[] = [];
  const seen = new Map<string, string>();
  const addRule = (rule: Rule, path: (string | number)[]) => {
    const prev = seen.get(rule.hostname);
    if (prev) {
      throw new ConfigError(
        `${loc([...path, "hostname"])}: duplicate hostname "${rule.hostname}" (also at ${prev})`,
      );
    }
    seen.set(rule.hostname, loc([...path, "hostname"]).split(": ")[0]!);
    rules.push(rule);
  };
  for (const [i, item] of list(data.local, ["local"], loc).entries()) {
    const path = ["local", i];
    const r = ruleObject(item, path, LOCAL_KEYS, ["hostname", "endpoint"], loc);
    addRule({
      kind: "local",
      hostname: hostnameOf(r.hostname, [...path, "hostname"], loc),
      ...formatOf(r, path, loc),
      endpoint: endpointOf(r.endpoint, [...path, "endpoint"], loc),
      concurrency: r.concurrency === undefined
        ? 1
        : convert("count", r.concurrency, loc([...path, "concurrency"])),
      queueLimit: r.queue_limit === undefined
        ? config.queueLimit
        : convert("count", r.queue_limit, loc([...path, "queue_limit"])),
      queueTimeoutMs: r.queue_timeout === undefined
        ? config.queueTimeoutMs
        : convert("duration", r.queue_timeout, loc([...path, "queue_timeout"])),
      line: lineOf(doc.getIn(path, true)),
    }, path);
    // Rules naming one endpoint share its queue, so they must agree on its limits.
    const rule = rules[rules.length - 1] as LocalRule;
    const twin = rules.find((o): o is LocalRule =>
      o !== rule && o.kind === "local" && sameEndpoint(o.endpoint, rule.endpoint)
    );
    if (
      twin &&
      (twin.concurrency !== rule.concurrency || twin.queueLimit !== rule.queueLimit ||
        twin.queueTimeoutMs !== rule.queueTimeoutMs)
    ) {
      throw new ConfigError(
        `${
          loc(path)
        }: endpoint ${rule.endpoint} is also used by "${twin.hostname}" (line ${twin.line}) with other ` +
          `concurrency/queue_limit/queue_timeout; rules sharing an endpoint share its queue and must agree`,
      );
    }
  }
  for (const [i, item] of list(data.aws, ["aws"], loc).entries()) {
    const path = ["aws", i];
    const required = r0(item).function_header === undefined ? ["hostname", "function_name"] : ["hostname"];
    const r = ruleObject(item, path, AWS_KEYS, required, loc);
    addRule(awsRuleOf(r, path, loc, lineOf(doc.getIn(path, true))), path);
  }
  config.rules = rules;
  return config;
}

/** Reads and parses a configuration file. Throws {@linkcode ConfigError}. */
export async function loadConfig(path: string, inputs: Omit<ConfigInputs, "source"> = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new ConfigError(`${path}: cannot read the configuration file: ${why}`);
  }
  return parseConfig(text, { ...inputs, source: path });
}

function list(value: unknown, path: (string | number)[], loc: Loc): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(`${loc(path)}: must be a list of rules`);
  return value;
}

function r0(item: unknown): Record<string, unknown> {
  return typeof item === "object" && item !== null ? item as Record<string, unknown> : {};
}

function ruleObject(
  item: unknown,
  path: (string | number)[],
  keys: string[],
  required: string[],
  loc: Loc,
): Record<string, unknown> {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new ConfigError(`${loc(path)}: a rule must be a mapping with ${required.join(" and ")}`);
  }
  const r = item as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!keys.includes(k)) {
      throw new ConfigError(`${loc([...path, k])}: unknown key (known: ${keys.join(", ")})`);
    }
  }
  for (const k of required) {
    if (r[k] === undefined || r[k] === null) {
      throw new ConfigError(`${loc(path)}: missing required key "${k}"`);
    }
  }
  return r;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

function hostnameOf(value: unknown, path: (string | number)[], loc: Loc): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ConfigError(`${loc(path)}: must be a non-empty string`);
  }
  let h = value.trim().toLowerCase();
  if (h.endsWith(".")) h = h.slice(0, -1);
  if (h.startsWith("[") && h.endsWith("]")) return h;
  if (isHostPattern(h)) {
    try {
      compileHostPattern(h);
    } catch (err) {
      throw new ConfigError(`${loc(path)}: ${(err as Error).message}`);
    }
    return h;
  }
  if (h.includes(":")) {
    throw new ConfigError(`${loc(path)}: "${value}" must be a host name without port or scheme`);
  }
  if (!h.split(".").every((l) => LABEL.test(l))) {
    throw new ConfigError(`${loc(path)}: "${value}" is not a valid host name`);
  }
  return h;
}

function endpointOf(value: unknown, path: (string | number)[], loc: Loc): string {
  if (typeof value !== "string") {
    throw new ConfigError(`${loc(path)}: must be a URL string such as http://lambda-1:8080`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${loc(path)}: "${value}" is not a valid URL (expected e.g. http://lambda-1:8080)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(`${loc(path)}: "${value}" must use http or https`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(`${loc(path)}: "${value}" must not carry a query, fragment or credentials`);
  }
  return value.replace(/\/+$/, "");
}

const FUNCTION_NAME =
  /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?$/;

/** Whether `name` is a valid Invoke `FunctionName` (name, `name:qualifier`, full or partial ARN). */
export function isFunctionName(name: string): boolean {
  return name.length <= 256 && FUNCTION_NAME.test(name);
}

/** Whether `qualifier` is a valid version or alias name. */
export function isQualifier(qualifier: string): boolean {
  return /^[a-zA-Z0-9$_-]{1,128}$/.test(qualifier);
}

function formatOf(
  r: Record<string, unknown>,
  path: (string | number)[],
  loc: Loc,
): { payloadFormat: PayloadFormat; multiValueHeaders: boolean; invokeMode?: InvokeMode } {
  const raw = r.payload_format === undefined || r.payload_format === null ? "2.0" : r.payload_format;
  const text = typeof raw === "number" ? raw.toFixed(1) : raw;
  if (!PAYLOAD_FORMATS.includes(text as PayloadFormat)) {
    throw new ConfigError(
      `${loc([...path, "payload_format"])}: ${JSON.stringify(raw)} must be one of "2.0", "1.0", "alb"`,
    );
  }
  let multi = false;
  if (r.multi_value_headers !== undefined) {
    multi = convert("boolean", r.multi_value_headers, loc([...path, "multi_value_headers"]));
    if (multi && text !== "alb") {
      throw new ConfigError(
        `${loc([...path, "multi_value_headers"])}: only applies to payload_format "alb"`,
      );
    }
  }
  let invokeMode: InvokeMode = "BUFFERED";
  if (r.invoke_mode !== undefined && r.invoke_mode !== null) {
    if (!INVOKE_MODES.includes(r.invoke_mode as InvokeMode)) {
      throw new ConfigError(
        `${loc([...path, "invoke_mode"])}: ${
          JSON.stringify(r.invoke_mode)
        } must be "BUFFERED" or "RESPONSE_STREAM"`,
      );
    }
    invokeMode = r.invoke_mode as InvokeMode;
    // Response streaming is a Function URL feature: its prelude is payload 2.0's.
    if (invokeMode === "RESPONSE_STREAM" && text !== "2.0") {
      throw new ConfigError(`${loc([...path, "invoke_mode"])}: RESPONSE_STREAM needs payload_format "2.0"`);
    }
  }
  // Absent means BUFFERED, so rules of configurations without streaming stay as they were.
  return {
    payloadFormat: text as PayloadFormat,
    multiValueHeaders: multi,
    ...(invokeMode === "RESPONSE_STREAM" && { invokeMode }),
  };
}

function headerNameOf(value: unknown, path: (string | number)[], loc: Loc): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) {
    throw new ConfigError(`${loc(path)}: ${JSON.stringify(value)} is not an HTTP header name`);
  }
  if (value.toLowerCase() === "host") {
    throw new ConfigError(`${loc(path)}: the Host header is for routing; choose another header`);
  }
  return value.toLowerCase();
}

/**
 * Validates an `aws:` rule. A function chosen by the request — a
 * placeholder in `function_name`/`qualifier`, or `function_header` — needs
 * an `allow` list: without one the rule would reach any function the
 * credentials can invoke, so that is a configuration error, not a default.
 */
function awsRuleOf(r: Record<string, unknown>, path: (string | number)[], loc: Loc, line: number): AwsRule {
  const hostname = hostnameOf(r.hostname, [...path, "hostname"], loc);
  const rule: AwsRule = { kind: "aws", hostname, ...formatOf(r, path, loc), allow: [], line };
  const captured = isHostPattern(hostname) ? compileHostPattern(hostname).names : [];
  const checkNames = (template: string, key: string) => {
    for (const name of templateNames(template)) {
      if (!captured.includes(name)) {
        throw new ConfigError(
          `${loc([...path, key])}: {${name}} is not a placeholder of hostname "${hostname}"`,
        );
      }
    }
  };
  let chosenByRequest = false;
  if (r.function_name !== undefined && r.function_name !== null) {
    const template = templateOf(r.function_name, isFunctionName, [...path, "function_name"], loc);
    checkNames(template, "function_name");
    rule.functionName = template;
    chosenByRequest ||= templateNames(template).length > 0;
  }
  if (r.qualifier !== undefined && r.qualifier !== null) {
    const template = templateOf(r.qualifier, isQualifier, [...path, "qualifier"], loc);
    checkNames(template, "qualifier");
    rule.qualifier = template;
    chosenByRequest ||= templateNames(template).length > 0;
  }
  if (r.function_header !== undefined) {
    rule.functionHeader = headerNameOf(r.function_header, [...path, "function_header"], loc);
    chosenByRequest = true;
  }
  if (r.qualifier_header !== undefined) {
    if (rule.functionHeader === undefined) {
      throw new ConfigError(`${loc([...path, "qualifier_header"])}: needs function_header`);
    }
    rule.qualifierHeader = headerNameOf(r.qualifier_header, [...path, "qualifier_header"], loc);
  }
  if (r.allow !== undefined && r.allow !== null) {
    const globs = typeof r.allow === "string" ? [r.allow] : r.allow;
    if (!Array.isArray(globs) || globs.length === 0) {
      throw new ConfigError(
        `${loc([...path, "allow"])}: must be a non-empty list of globs such as "app-*:live"`,
      );
    }
    for (const [i, g] of globs.entries()) {
      if (typeof g !== "string" || !isAllowGlob(g)) {
        throw new ConfigError(
          `${loc([...path, "allow", i])}: ${
            JSON.stringify(g)
          } is not a glob of function names (letters, digits, - _ . : $ * ?)`,
        );
      }
    }
    if (!chosenByRequest) {
      throw new ConfigError(
        `${
          loc([...path, "allow"])
        }: only applies when the request chooses the function (a {placeholder} or function_header)`,
      );
    }
    rule.allow = globs as string[];
  } else if (chosenByRequest) {
    throw new ConfigError(
      `${
        loc(path)
      }: the request chooses the function here (a {placeholder} or function_header), so "allow" must list the functions it may reach`,
    );
  }
  return rule;
}

/**
 * Validates a `function_name` or `qualifier` that may hold `{placeholders}`:
 * it must be valid with every placeholder filled in (by `x`, a valid name).
 */
function templateOf(
  value: unknown,
  valid: (text: string) => boolean,
  path: (string | number)[],
  loc: Loc,
): string {
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || !valid(text.replace(/\{[a-z_][a-z0-9_]*\}/g, "x"))) {
    const what = valid === isQualifier
      ? "a version or alias name"
      : "a Lambda function name, name:alias or ARN";
    throw new ConfigError(`${loc(path)}: ${JSON.stringify(value)} is not ${what}`);
  }
  return text;
}

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
function convert(kind: Kind, raw: unknown, where: string): any {
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
    case "cidrs": {
      const items = Array.isArray(raw)
        ? raw
        : typeof text === "string"
        ? text.split(",").map((x) => x.trim()).filter((x) => x !== "")
        : fail("must be a list of CIDRs such as 10.0.0.0/8");
      return items.map((item: unknown) => {
        try {
          if (typeof item !== "string") throw new TypeError(`${JSON.stringify(item)} is not a string`);
          parseCidr(item.trim());
          return item.trim();
        } catch (err) {
          throw new ConfigError(`${where}: ${(err as Error).message}`);
        }
      });
    }
    case "prefix": {
      if (typeof text !== "string") return fail("must be a string");
      const trimmed = text.replace(/^\/+|\/+$/g, "");
      if (trimmed === "") return "";
      if (!/^[A-Za-z0-9._~\/-]+$/.test(trimmed)) fail("must be a plain path segment such as _lrp");
      return `/${trimmed}`;
    }
  }
}

function sameEndpoint(a: string, b: string): boolean {
  return new URL(a).href.replace(/\/+$/, "") === new URL(b).href.replace(/\/+$/, "");
}

/** The route table as text lines, for `lrp check` and the start-up log. */
export function describeRules(config: Config): string[] {
  return config.rules.map((r) => {
    const format = (r.payloadFormat ?? "2.0") === "2.0"
      ? ""
      : ` [payload ${r.payloadFormat}${r.multiValueHeaders ? ", multi-value" : ""}]`;
    const mode = r.invokeMode === "RESPONSE_STREAM" ? " [stream]" : "";
    if (r.kind === "local") {
      return `${r.hostname} -> local ${r.endpoint} (concurrency ${r.concurrency}, queue ${r.queueLimit})${format}${mode}`;
    }
    return `${r.hostname} -> aws ${describeAwsTarget(r)}${
      r.allow.length ? ` allow ${r.allow.join(",")}` : ""
    }${format}${mode}`;
  });
}

/** An aws rule's target in words: `fn:live`, `header x-lambda-function (default fn)`. */
export function describeAwsTarget(r: AwsRule): string {
  const fixed = r.functionName === undefined
    ? ""
    : `${r.functionName}${r.qualifier ? `:${r.qualifier}` : ""}`;
  if (r.functionHeader === undefined) return fixed;
  return `header ${r.functionHeader}${r.qualifierHeader ? `/${r.qualifierHeader}` : ""}${
    fixed ? ` (default ${fixed})` : ""
  }`;
}
