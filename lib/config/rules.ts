/**
 * The rules of `lrp.yaml` (`local:` and `aws:` entries): their keys, and the
 * checks of each value — host names and patterns, RIE endpoints, payload
 * format and invoke mode, function names and allow lists — each mistake one
 * {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

import { INVOKE_MODES, type InvokeMode } from "../invoke/types.ts";
import { compileHostPattern, isAllowGlob, isHostPattern, templateNames } from "../route/pattern.ts";
import { type AwsRule, isFunctionName, isQualifier } from "../route/rule.ts";
import { PAYLOAD_FORMATS, type PayloadFormat } from "../wire/formats.ts";
import { closest } from "../suggest.ts";
import { convert } from "./convert.ts";
import { ConfigError } from "./types.ts";

/** Names the place of a key path in the file: `lrp.yaml:12: local[0].endpoint`. */
export type Loc = (path: (string | number)[]) => string;

/** Keys of a `local:` rule. */
export const LOCAL_KEYS = [
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
export const AWS_KEYS = [
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
export function list(value: unknown, path: (string | number)[], loc: Loc): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ConfigError(`${loc(path)}: must be a list of rules`);
  return value;
}

export function r0(item: unknown): Record<string, unknown> {
  return typeof item === "object" && item !== null ? item as Record<string, unknown> : {};
}

export function ruleObject(
  item: unknown,
  path: (string | number)[],
  keys: string[],
  required: string[],
  loc: Loc,
  report: (problem: string) => void,
): Record<string, unknown> {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw new ConfigError(`${loc(path)}: a rule must be a mapping with ${required.join(" and ")}`);
  }
  const r = item as Record<string, unknown>;
  // Unknown keys are reported without stopping, so the rule's other values are still checked.
  for (const k of Object.keys(r)) {
    if (!keys.includes(k)) report(unknownKey(loc([...path, k]), k, keys));
  }
  const missing = required.filter((k) => r[k] === undefined || r[k] === null)
    .map((k) => `${loc(path)}: missing required key "${k}"`);
  if (missing.length > 0) throw new ConfigError(missing[0]!, missing);
  return r;
}

/** An unknown key's problem, with the closest known key when it looks like a typo of one. */
export function unknownKey(where: string, key: string, known: readonly string[]): string {
  const meant = closest(key, known);
  return `${where}: unknown key (${meant ? `did you mean "${meant}"?` : `known: ${known.join(", ")}`})`;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

export function hostnameOf(value: unknown, path: (string | number)[], loc: Loc): string {
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

export function endpointOf(value: unknown, path: (string | number)[], loc: Loc): string {
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

export function formatOf(
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

export function headerNameOf(value: unknown, path: (string | number)[], loc: Loc): string {
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
export function awsRuleOf(
  r: Record<string, unknown>,
  path: (string | number)[],
  loc: Loc,
  line: number,
): AwsRule {
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
export function templateOf(
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
