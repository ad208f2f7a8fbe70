/**
 * Parses `lrp.yaml` — the file of gabrielelana/lambda-reverse-proxy,
 * unchanged, plus optional keys — into a {@linkcode Config}.
 *
 * {@linkcode parseConfig} is pure; {@linkcode loadConfig} only adds the read.
 * Every mistake is one {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

import { isMap, isScalar, LineCounter, parseDocument } from "npm:yaml@2.9.1";
import type { Node as YamlNode } from "npm:yaml@2.9.1";
import { INVOKE_MODES, type InvokeMode } from "../invoke/types.ts";
import { endpointKey } from "../invoke/queue.ts";
import { compileHostPattern, isAllowGlob, isHostPattern, templateNames } from "../route/pattern.ts";
import { type AwsRule, isFunctionName, isQualifier, type LocalRule, type Rule } from "../route/rule.ts";
import { PAYLOAD_FORMATS, type PayloadFormat } from "../wire/formats.ts";
import { checkFunctionFiles, FUNCTION_KEYS, functionRuleOf } from "./functions.ts";
import { convert, SETTINGS } from "./settings.ts";
import { type Config, ConfigError } from "./types.ts";

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
const TOP_KEYS = new Set([...SETTINGS.map((s) => s.key), "local", "aws", "functions"]);

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
  // The SDK's own endpoint precedence (docs/aws.md, "Endpoint"), resolved here because lrp's
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
      o !== rule && o.kind === "local" && endpointKey(o.endpoint) === endpointKey(rule.endpoint)
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
  for (const [i, item] of list(data.functions, ["functions"], loc).entries()) {
    const path = ["functions", i];
    const r = ruleObject(item, path, FUNCTION_KEYS, ["hostname", "runtime", "code"], loc);
    const base = {
      hostname: hostnameOf(r.hostname, [...path, "hostname"], loc),
      ...formatOf(r, path, loc),
      queueLimit: config.queueLimit,
      queueTimeoutMs: config.queueTimeoutMs,
      region: config.region,
      line: lineOf(doc.getIn(path, true)),
    };
    addRule(functionRuleOf(r, path, loc, base, source), path);
  }
  config.rules = rules;
  return config;
}

/**
 * Reads and parses a configuration file, and checks what its `functions:`
 * rules need on disk. Throws {@linkcode ConfigError}.
 */
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
  const config = parseConfig(text, { ...inputs, source: path });
  checkFunctionFiles(config, inputs.env ?? Deno.env.toObject());
  return config;
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
  // The form the AWS docs print (the RIE's full invocation URL) names the same endpoint.
  return value.replace(/\/+$/, "").replace(INVOKE_PATH_SUFFIX, "").replace(/\/+$/, "");
}

/** The RIE invocation path, as found at the end of an endpoint written as the full invocation URL. */
const INVOKE_PATH_SUFFIX = /\/2015-03-31\/functions\/function\/invocations$/;

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
