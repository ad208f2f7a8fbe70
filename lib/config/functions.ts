/**
 * The `functions:` list of `lrp.yaml`: rules whose function lrp runs itself
 * (see `lib/runtime/`). {@linkcode functionRuleOf} validates one entry
 * without I/O; {@linkcode checkFunctionFiles} adds the checks that need the
 * file system (code folder, handler file, interpreter on `PATH`).
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { FUNCTION_RUNTIMES, type FunctionRule, type FunctionRuntime } from "../route/rule.ts";
import { convert } from "./convert.ts";
import type { Loc } from "./rules.ts";
import { isDeno, onPath } from "../runtime/interpreters.ts";
import { type Config, ConfigError } from "./types.ts";

/** Keys of a `functions:` rule. */
export const FUNCTION_KEYS = [
  "hostname",
  "name",
  "runtime",
  "handler",
  "code",
  "concurrency",
  "timeout",
  "memory",
  "environment",
  "environment_passthrough",
  "watch_code",
  // The old name of watch_code (deprecated: see deprecatedKeys).
  "watch",
  "idle_timeout",
  "queue_limit",
  "queue_timeout",
  "payload_format",
  "multi_value_headers",
  "invoke_mode",
];

/**
 * The variables of lrp's environment every function gets when set: what its runtime needs to run and
 * find its caches (node, python3, deno, a bootstrap's shell), never credentials or lrp's own settings.
 * The Windows names are those node and deno need to start there.
 */
export const RUNTIME_HOST_VARIABLES = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "TMPDIR",
  "DENO_DIR",
  "XDG_CACHE_HOME",
  "SYSTEMROOT",
  "WINDIR",
  "COMSPEC",
  "PATHEXT",
  "TEMP",
  "TMP",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
];

/**
 * The part of lrp's environment `env` a function gets: {@linkcode RUNTIME_HOST_VARIABLES} and the
 * names in `passthrough`, where set. Names match case-insensitively (Windows spells `Path`).
 */
export function hostEnvironment(
  env: Record<string, string | undefined>,
  passthrough: readonly string[],
): Record<string, string> {
  const wanted = new Set([...RUNTIME_HOST_VARIABLES, ...passthrough].map((n) => n.toUpperCase()));
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && wanted.has(name.toUpperCase())) out[name] = value;
  }
  return out;
}

/** Lambda's default function timeout: 3 seconds. */
export const DEFAULT_FUNCTION_TIMEOUT_MS = 3_000;
/** Lambda's default memory size, MB. */
export const DEFAULT_FUNCTION_MEMORY_MB = 128;
/** How long an idle runtime process is kept warm by default. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** What the caller already validated: host name, payload format, invoke mode, queue defaults. */
export interface FunctionRuleBase {
  hostname: string;
  payloadFormat: FunctionRule["payloadFormat"];
  multiValueHeaders: boolean;
  invokeMode?: FunctionRule["invokeMode"];
  queueLimit: number;
  queueTimeoutMs: number;
  region: string;
  line: number;
}

/**
 * Validates one `functions:` entry `r` (already checked for unknown keys).
 * `code` is resolved against the directory of `source` (the config file);
 * `env` is lrp's environment, of which the function gets only part
 * ({@linkcode hostEnvironment}).
 */
export function functionRuleOf(
  r: Record<string, unknown>,
  path: (string | number)[],
  loc: Loc,
  base: FunctionRuleBase,
  source: string,
  env: Record<string, string | undefined> = {},
): FunctionRule {
  const at = (key: string) => loc([...path, key]);
  if (!FUNCTION_RUNTIMES.includes(r.runtime as FunctionRuntime)) {
    throw new ConfigError(
      `${at("runtime")}: ${JSON.stringify(r.runtime)} is not a runtime (known: ${
        FUNCTION_RUNTIMES.join(", ")
      })`,
    );
  }
  const runtime = r.runtime as FunctionRuntime;
  let handler = "";
  if (runtime !== "provided") {
    if (r.handler === undefined || r.handler === null) {
      throw new ConfigError(`${loc(path)}: missing required key "handler" (runtime ${runtime})`);
    }
    // AWS's runtime clients refuse any ".." (Runtime.MalformedHandlerName); an absolute FILE would leave
    // `code` as well.
    if (typeof r.handler === "string" && (r.handler.includes("..") || r.handler.startsWith("/"))) {
      throw new ConfigError(
        `${at("handler")}: ${
          JSON.stringify(r.handler)
        } is not a valid handler name (Runtime.MalformedHandlerName): it must name a file inside code, without ".." or a leading "/"`,
      );
    }
    if (typeof r.handler !== "string" || !/^[^.\s][^\s]*\.[A-Za-z_$][\w$]*$/.test(r.handler)) {
      throw new ConfigError(
        `${at("handler")}: ${JSON.stringify(r.handler)} must be FILE.EXPORT such as index.handler`,
      );
    }
    handler = r.handler;
  } else if (r.handler !== undefined && r.handler !== null) {
    handler = convert("string", r.handler, at("handler"));
  }
  if (typeof r.code !== "string" || r.code.trim() === "") {
    throw new ConfigError(`${at("code")}: must be the path of the function's code folder`);
  }
  const dir = source.startsWith("<") ? "." : dirname(source);
  const code = isAbsolute(r.code) ? r.code : resolve(dir, r.code);
  const name = r.name === undefined
    ? base.hostname.replace(/[^a-zA-Z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64) || "function"
    : convert("string", r.name, at("name"));
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
    throw new ConfigError(
      `${at("name")}: ${JSON.stringify(name)} is not a function name (letters, digits, - _)`,
    );
  }
  const memoryMb = r.memory === undefined
    ? DEFAULT_FUNCTION_MEMORY_MB
    : convert("count", r.memory, at("memory"));
  if (memoryMb < 128 || memoryMb > 10_240) {
    throw new ConfigError(`${at("memory")}: ${memoryMb} must be from 128 to 10240 (MB), as in Lambda`);
  }
  const environment: Record<string, string> = {};
  if (r.environment !== undefined && r.environment !== null) {
    if (typeof r.environment !== "object" || Array.isArray(r.environment)) {
      throw new ConfigError(`${at("environment")}: must be a mapping of variable names to values`);
    }
    for (const [k, v] of Object.entries(r.environment)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
        throw new ConfigError(`${loc([...path, "environment", k])}: is not an environment variable name`);
      }
      if (v === null || typeof v === "object") {
        throw new ConfigError(`${loc([...path, "environment", k])}: must be a string, number or boolean`);
      }
      environment[k] = String(v);
    }
  }
  const passthrough: string[] = [];
  if (r.environment_passthrough !== undefined && r.environment_passthrough !== null) {
    if (!Array.isArray(r.environment_passthrough)) {
      throw new ConfigError(
        `${at("environment_passthrough")}: must be a list of variable names, such as [AWS_PROFILE]`,
      );
    }
    for (const [i, n] of r.environment_passthrough.entries()) {
      if (typeof n !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) {
        throw new ConfigError(
          `${loc([...path, "environment_passthrough", i])}: ${
            JSON.stringify(n)
          } is not an environment variable name`,
        );
      }
      passthrough.push(n);
    }
  }
  return {
    kind: "function",
    hostname: base.hostname,
    ...(base.payloadFormat && { payloadFormat: base.payloadFormat }),
    multiValueHeaders: base.multiValueHeaders,
    ...(base.invokeMode && { invokeMode: base.invokeMode }),
    name,
    runtime,
    handler,
    code,
    concurrency: r.concurrency === undefined ? 1 : convert("count", r.concurrency, at("concurrency")),
    timeoutMs: r.timeout === undefined
      ? DEFAULT_FUNCTION_TIMEOUT_MS
      : convert("duration", r.timeout, at("timeout")),
    memoryMb,
    region: base.region || "us-east-1",
    environment,
    hostEnvironment: hostEnvironment(env, passthrough),
    watch: r.watch_code !== undefined
      ? convert("boolean", r.watch_code, at("watch_code"))
      : r.watch !== undefined
      ? convert("boolean", r.watch, at("watch"))
      : false,
    idleTimeoutMs: r.idle_timeout === undefined
      ? DEFAULT_IDLE_TIMEOUT_MS
      : convert("duration", r.idle_timeout, at("idle_timeout")),
    queueLimit: r.queue_limit === undefined
      ? base.queueLimit
      : convert("count", r.queue_limit, at("queue_limit")),
    queueTimeoutMs: r.queue_timeout === undefined
      ? base.queueTimeoutMs
      : convert("duration", r.queue_timeout, at("queue_timeout")),
    line: base.line,
  };
}

/** The interpreter a runtime starts, looked up on `PATH`; none for `provided`. */
/**
 * The warnings for a `functions:` rule's deprecated keys (`watch`, now
 * `watch_code`); both names at once is a mistake (thrown).
 */
export function deprecatedKeys(r: Record<string, unknown>, path: (string | number)[], loc: Loc): string[] {
  if (r.watch === undefined) return [];
  if (r.watch_code !== undefined) {
    throw new ConfigError(`${loc([...path, "watch"])}: use watch_code alone (watch is its old name)`);
  }
  return [
    `${
      loc([...path, "watch"])
    }: deprecated, use watch_code (it restarts the function when its code changes; ` +
    `watch_config reloads this file)`,
  ];
}

export function interpreterOf(runtime: FunctionRuntime): string | undefined {
  return runtime === "nodejs"
    ? "node"
    : runtime === "deno"
    ? "deno"
    : runtime === "python"
    ? "python3"
    : undefined;
}

/** File extensions tried, in order, for the FILE of a nodejs or deno handler (Lambda's order for Node). */
export const HANDLER_EXTENSIONS: Record<FunctionRuntime, string[]> = {
  nodejs: [".js", ".mjs", ".cjs"],
  deno: [".ts", ".js", ".mjs", ".tsx", ".jsx"],
  python: [".py"],
  provided: [],
};

/** The handler's file (`FILE` + extension under `code`), or `undefined` when none exists. */
export function handlerFile(rule: Pick<FunctionRule, "runtime" | "handler" | "code">): string | undefined {
  if (rule.runtime === "provided") return isFile(resolve(rule.code, "bootstrap")) ? "bootstrap" : undefined;
  const stem = rule.handler.slice(0, rule.handler.lastIndexOf("."));
  const file = rule.runtime === "python" ? stem.replaceAll(".", "/") : stem;
  for (const ext of HANDLER_EXTENSIONS[rule.runtime]) {
    if (isFile(resolve(rule.code, file + ext))) return file + ext;
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Checks what `functions:` rules need from the machine: the code folder,
 * the handler file (or `bootstrap`), and the interpreter on `PATH`. Throws
 * one {@linkcode ConfigError} listing every rule's mistake (`file:line: functions[i].key: message`).
 */
export function checkFunctionFiles(config: Config, env: Record<string, string | undefined>): void {
  const problems: string[] = [];
  let i = 0;
  for (const rule of config.rules) {
    if (rule.kind !== "function") continue;
    try {
      checkFunctionRule(rule, i++, config.source, env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems[0]!, problems);
}

/** The checks of {@linkcode checkFunctionFiles} for one rule; throws at its first mistake. */
function checkFunctionRule(
  rule: FunctionRule,
  index: number,
  source: string,
  env: Record<string, string | undefined>,
): void {
  const at = (key: string) => `${source}:${rule.line || 1}: functions[${index}].${key}`;
  let dir: Deno.FileInfo | undefined;
  try {
    dir = Deno.statSync(rule.code);
  } catch {
    // reported below
  }
  if (!dir?.isDirectory) throw new ConfigError(`${at("code")}: no such folder: ${rule.code}`);
  const file = handlerFile(rule);
  if (file === undefined) {
    const what = rule.runtime === "provided"
      ? "file named bootstrap"
      : `file ${rule.handler.slice(0, rule.handler.lastIndexOf("."))}${
        rule.runtime === "python" ? ".py" : ` (${HANDLER_EXTENSIONS[rule.runtime].join(", ")})`
      }`;
    throw new ConfigError(
      `${at(rule.runtime === "provided" ? "code" : "handler")}: ${rule.code} has no ${what}`,
    );
  }
  if (rule.runtime === "provided" && !onPath(resolve(rule.code, "bootstrap"))) {
    throw new ConfigError(`${at("code")}: ${rule.code}/bootstrap is not executable (chmod +x)`);
  }
  const interpreter = interpreterOf(rule.runtime);
  if (interpreter && !onPath(interpreter, env) && !(rule.runtime === "deno" && isDeno())) {
    throw new ConfigError(
      `${at("runtime")}: ${interpreter} is not on PATH; install it to run ${rule.runtime} functions`,
    );
  }
}
