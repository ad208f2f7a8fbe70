/**
 * Parses `lrp.yaml` — the file of gabrielelana/lambda-reverse-proxy,
 * unchanged, plus optional keys — into a {@linkcode Config}.
 *
 * {@linkcode parseConfig} is pure; {@linkcode loadConfig} only adds the read.
 * Every mistake is one {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

// The yaml package, bundled into one ES module (scripts/vendor_yaml.ts): loading it from npm costs ~65 ms
// of every start-up. Its types come from the package itself.
// @ts-types="npm:yaml@2.9.1"
import { isMap, isScalar, LineCounter, parseDocument } from "../vendor/yaml.js";
import type { Node as YamlNode } from "npm:yaml@2.9.1";
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
} from "./rules.ts";
import { checkFunctionFiles, FUNCTION_KEYS, functionRuleOf } from "./functions.ts";
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
  config.awsCredentials = envCredentials(inputs.env ?? {}, config.awsProfile);

  const rules: Rule[] = [];
  const placed: PlacedRule[] = [];
  const seen = new Map<string, { at: string; rule: Rule }>();
  const addRule = (rule: Rule, path: (string | number)[]) => {
    const prev = seen.get(rule.hostname);
    // Rules with routes share their host: together they are its API(s) (docs/routes.md).
    if (prev && !(prev.rule.routes && rule.routes)) {
      throw new ConfigError(
        `${loc([...path, "hostname"])}: duplicate hostname "${rule.hostname}" (also at ${prev.at})${
          prev.rule.routes || rule.routes ? "; rules may share a host only when each has routes" : ""
        }`,
      );
    }
    if (!prev) seen.set(rule.hostname, { at: loc([...path, "hostname"]).split(": ")[0]!, rule });
    rules.push(rule);
    placed.push({ rule, path, name: `${path[0]}[${path[1]}]` });
  };
  for (const [i, item] of list(data.local, ["local"], loc).entries()) {
    const path = ["local", i];
    const r = ruleObject(item, path, [...LOCAL_KEYS, ...GATEWAY_KEYS], ["hostname", "endpoint"], loc);
    const format = formatOf(r, path, loc);
    addRule({
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
    const r = ruleObject(item, path, [...AWS_KEYS, ...GATEWAY_KEYS], required, loc);
    const rule = awsRuleOf(r, path, loc, lineOf(doc.getIn(path, true)));
    addRule(Object.assign(rule, gatewayOf(r, path, loc, rule.payloadFormat ?? "2.0")), path);
  }
  for (const [i, item] of list(data.functions, ["functions"], loc).entries()) {
    const path = ["functions", i];
    const r = ruleObject(
      item,
      path,
      [...FUNCTION_KEYS, ...GATEWAY_KEYS],
      ["hostname", "runtime", "code"],
      loc,
    );
    const base = {
      hostname: hostnameOf(r.hostname, [...path, "hostname"], loc),
      ...formatOf(r, path, loc),
      queueLimit: config.queueLimit,
      queueTimeoutMs: config.queueTimeoutMs,
      region: config.region,
      line: lineOf(doc.getIn(path, true)),
    };
    const rule = functionRuleOf(r, path, loc, base, source, inputs.env);
    addRule(Object.assign(rule, gatewayOf(r, path, loc, rule.payloadFormat ?? "2.0")), path);
  }
  checkHosts(placed, loc);
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
  checkFunctionFiles(config, inputs.env ?? {});
  return config;
}
