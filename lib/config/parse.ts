/**
 * Parses `lrp.yaml` — the file of gabrielelana/lambda-reverse-proxy,
 * unchanged, plus optional keys — into a {@linkcode Config}.
 *
 * {@linkcode parseConfig} is pure; {@linkcode loadConfig} only adds the read.
 * Every mistake is one {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

import { parseYaml, type YamlDocument, YamlSyntaxError } from "./yaml.ts";
import { endpointKey } from "../invoke/queue.ts";
import type { LocalRule, Rule } from "../route/rule.ts";
import {
  AWS_KEYS,
  awsRuleOf,
  endpointOf,
  formatOf,
  hostnameOf,
  list,
  type Loc,
  LOCAL_KEYS,
  r0,
  ruleObject,
  unknownKey,
} from "./rules.ts";
import { checkFunctionFiles, deprecatedKeys, FUNCTION_KEYS, functionRuleOf } from "./functions.ts";
import { convert } from "./convert.ts";
import { checkHosts, GATEWAY_KEYS, gatewayOf, type PlacedRule } from "./api.ts";
import { SETTINGS } from "./settings.ts";
import { type Config, ConfigError } from "./types.ts";

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

/**
 * The credentials the SDK's default chain would take from the environment
 * (docs/aws.md, "Credentials"): its first provider reads `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and is skipped when a
 * profile is named (`aws_profile` or `AWS_PROFILE`).
 */
function envCredentials(
  env: Record<string, string | undefined>,
  profile: string,
): Config["awsCredentials"] {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey || profile !== "" || env.AWS_PROFILE) return undefined;
  return new HiddenCredentials(accessKeyId, secretAccessKey, env.AWS_SESSION_TOKEN || undefined);
}

/** Credentials that print as `(hidden)`, in JSON and in `console.log`, wherever a configuration is shown. */
class HiddenCredentials {
  constructor(
    readonly accessKeyId: string,
    readonly secretAccessKey: string,
    readonly sessionToken: string | undefined,
  ) {}

  toJSON(): string {
    return "(hidden)";
  }

  [Symbol.for("Deno.customInspect")](): string {
    return "(hidden)";
  }
}

/**
 * Parses and validates `lrp.yaml` text. An empty text gives the defaults and
 * no rules. Throws {@linkcode ConfigError}.
 */
export function parseConfig(text: string, inputs: ConfigInputs): Config {
  const { source } = inputs;
  let doc: YamlDocument;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (!(err instanceof YamlSyntaxError)) throw err;
    throw new ConfigError(`${source}:${err.line}: YAML syntax error: ${err.reason}`);
  }
  const loc: Loc = (path) => {
    let line = 0;
    for (let i = path.length; i >= 0 && line === 0; i--) line = doc.lineOf(path.slice(0, i));
    return `${source}:${line || 1}: ${pathText(path)}`;
  };
  if (!doc.rootIsMapping) throw new ConfigError(`${source}:1: the file must be a YAML mapping`);
  const data = (doc.value ?? {}) as Record<string, unknown>;
  // Every mistake is collected, so one run of `lrp check` lists them all; a step that fails
  // gives up only its own value.
  const problems: string[] = [];
  const report = (problem: string) => void problems.push(problem);
  const warnings: string[] = [];
  const attempt = <T>(step: () => T): T | undefined => {
    try {
      return step();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      return undefined;
    }
  };
  for (const d of doc.duplicates) {
    problems.push(
      `${source}:${d.line}: ${pathText(d.path)}: duplicate key (first on line ${d.firstLine}); ` +
        `a key may appear once in a mapping`,
    );
  }
  for (const key of Object.keys(data)) {
    if (!TOP_KEYS.has(key)) problems.push(unknownKey(loc([key]), key, [...TOP_KEYS]));
  }

  const config = { source } as Config;
  const record = config as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const flag = inputs.flags?.[s.flag];
    const env = inputs.env?.[s.env];
    const flip = (v: unknown) => s.inverse ? !v : v;
    const value = attempt(() => {
      if (flag !== undefined) return flip(convert(s.kind, flag, `flag --${s.flag}`));
      if (env !== undefined && env !== "") return flip(convert(s.kind, env, `environment ${s.env}`));
      if (data[s.key] !== undefined && data[s.key] !== null) {
        return convert(s.kind, data[s.key], loc([s.key]));
      }
    });
    // A wrong value is reported; the default stands in for it while the rest is checked.
    record[s.field] = value ?? convert(s.kind, s.default, `default of ${s.key}`);
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
  config.awsCredentials = envCredentials(inputs.env ?? {}, config.awsProfile);

  const rules: Rule[] = [];
  const placed: PlacedRule[] = [];
  const seen = new Map<string, { at: string; rule: Rule }>();
  /**
   * Adds the rule `build` makes unless it fails (its problem is kept) or its hostname is taken by a
   * rule that cannot share it (a problem too); whether it was added.
   */
  const addRule = (build: () => Rule, path: (string | number)[]): boolean => {
    const rule = attempt(build);
    if (rule === undefined) return false;
    const prev = seen.get(rule.hostname);
    // Rules with routes share their host: together they are its API(s) (docs/routes.md).
    if (prev && !(prev.rule.routes && rule.routes)) {
      problems.push(
        `${loc([...path, "hostname"])}: duplicate hostname "${rule.hostname}" (also at ${prev.at})${
          prev.rule.routes || rule.routes ? "; rules may share a host only when each has routes" : ""
        }`,
      );
      return false;
    }
    if (!prev) seen.set(rule.hostname, { at: loc([...path, "hostname"]).split(": ")[0]!, rule });
    rules.push(rule);
    placed.push({ rule, path, name: `${path[0]}[${path[1]}]` });
    return true;
  };
  for (const [i, item] of (attempt(() => list(data.local, ["local"], loc)) ?? []).entries()) {
    const path = ["local", i];
    const added = addRule(() => {
      const r = ruleObject(
        item,
        path,
        [...LOCAL_KEYS, ...GATEWAY_KEYS],
        ["hostname", "endpoint"],
        loc,
        report,
      );
      const format = formatOf(r, path, loc);
      return {
        kind: "local",
        hostname: hostnameOf(r.hostname, [...path, "hostname"], loc),
        ...format,
        ...gatewayOf(r, path, loc, format.payloadFormat),
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
        line: doc.lineOf(path),
      };
    }, path);
    if (!added) continue;
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
      problems.push(
        `${
          loc(path)
        }: endpoint ${rule.endpoint} is also used by "${twin.hostname}" (line ${twin.line}) with other ` +
          `concurrency/queue_limit/queue_timeout; rules sharing an endpoint share its queue and must agree`,
      );
    }
  }
  for (const [i, item] of (attempt(() => list(data.aws, ["aws"], loc)) ?? []).entries()) {
    const path = ["aws", i];
    const required = r0(item).function_header === undefined ? ["hostname", "function_name"] : ["hostname"];
    addRule(() => {
      const r = ruleObject(item, path, [...AWS_KEYS, ...GATEWAY_KEYS], required, loc, report);
      const rule = awsRuleOf(r, path, loc, doc.lineOf(path));
      return Object.assign(rule, gatewayOf(r, path, loc, rule.payloadFormat ?? "2.0"));
    }, path);
  }
  for (const [i, item] of (attempt(() => list(data.functions, ["functions"], loc)) ?? []).entries()) {
    const path = ["functions", i];
    addRule(() => {
      const r = ruleObject(
        item,
        path,
        [...FUNCTION_KEYS, ...GATEWAY_KEYS],
        ["hostname", "runtime", "code"],
        loc,
        report,
      );
      warnings.push(...deprecatedKeys(r, path, loc));
      const base = {
        hostname: hostnameOf(r.hostname, [...path, "hostname"], loc),
        ...formatOf(r, path, loc),
        queueLimit: config.queueLimit,
        queueTimeoutMs: config.queueTimeoutMs,
        region: config.region,
        line: doc.lineOf(path),
      };
      const rule = functionRuleOf(r, path, loc, base, source, inputs.env);
      return Object.assign(rule, gatewayOf(r, path, loc, rule.payloadFormat ?? "2.0"));
    }, path);
  }
  attempt(() => checkHosts(placed, loc));
  if (problems.length > 0) throw configErrors(problems, source);
  config.rules = rules;
  config.warnings = warnings;
  return config;
}

/** A key path as messages write it: `local[0].endpoint`. */
function pathText(path: readonly (string | number)[]): string {
  return path.map((p) => typeof p === "number" ? `[${p}]` : p).join(".").replace(/\.\[/g, "[");
}

/** The problems in the order of the file (those of flags and variables first), as one error. */
function configErrors(problems: string[], source: string): ConfigError {
  const line = (p: string) =>
    p.startsWith(`${source}:`) ? Number(/^:(\d+):/.exec(p.slice(source.length))?.[1] ?? 0) : 0;
  const sorted = problems.map((p, i) => ({ p, i, line: line(p) }))
    .sort((a, b) => a.line - b.line || a.i - b.i).map(({ p }) => p);
  return new ConfigError(sorted[0]!, sorted);
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
  checkFunctionFiles(config, inputs.env ?? {});
  return config;
}
