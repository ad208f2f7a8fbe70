/**
 * `lrp start-api`: finds and reads a SAM template or a `serverless.yml`,
 * turns it into the `functions:` rules an `lrp.yaml` would hold
 * (`plan.ts`), and hands those to the normal configuration parser, so the
 * normal server runs them. main.ts reads the arguments and owns the process;
 * this module reads files and asks the interpreters for their versions.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { checkFunctionFiles } from "../config/functions.ts";
import { parseConfig } from "../config/parse.ts";
import { type Config, ConfigError } from "../config/types.ts";
import type { FunctionRuntime } from "../route/rule.ts";
import { describePlan, type Plan, planToConfig } from "./plan.ts";
import { DISK, type Files } from "./runtimes.ts";
import { isSamTemplate, readSam } from "./sam.ts";
import { isServerlessFile, readServerless } from "./serverless.ts";
import { parseDotenv, VariableProblem } from "./serverless_vars.ts";
import { parseTemplateText } from "./yaml.ts";

/** The templates looked for, in order, when no `--template` is given (as `sam local` looks). */
export const DEFAULT_TEMPLATES = [
  ".aws-sam/build/template.yaml",
  "template.yaml",
  "template.yml",
  "serverless.yml",
  "serverless.yaml",
];

/** What start-api was asked, from its flags. */
export interface StartApiOptions {
  /** `--template`; absent: the first of {@linkcode DEFAULT_TEMPLATES} in the working directory. */
  template?: string;
  /** `--stage`: Serverless's `${opt:stage}` / `${sls:stage}`; for SAM, the stage of every API. */
  stage?: string;
  stageInPath: boolean;
  /** `--parameter-overrides`: `K=V` words, or SAM's `ParameterKey=K,ParameterValue=V`. */
  parameterOverrides: string[];
  /** `--env-vars`: a JSON file of variables by function (and `Parameters` for all). */
  envVars?: string;
  /** `--warm-containers`: start every function's first process at start-up (`EAGER`) or on first use. */
  warm: "EAGER" | "LAZY";
  watch: boolean;
}

/** A loaded start-api configuration: the config to serve, the plan it came from, and its template. */
export interface StartApi {
  template: string;
  plan: Plan;
  config: Config;
  /** The folders written for `InlineCode` functions: the caller removes them when they are no longer served. */
  inlineDirs: string[];
}

/** The template to read: `--template`, else the first default that exists. Throws {@linkcode ConfigError}. */
export function findTemplate(given: string | undefined, files: Files = DISK): string {
  if (given !== undefined) return given;
  const found = DEFAULT_TEMPLATES.find((f) => files.isFile(f));
  if (!found) {
    throw new ConfigError(
      `no template found here: looked for ${DEFAULT_TEMPLATES.join(", ")} (or pass --template FILE)`,
    );
  }
  return found;
}

/** `K=V` words (several per argument, space-separated) and SAM's `ParameterKey=K,ParameterValue=V` form. */
export function parseOverrides(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of args.flatMap((a) => a.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [])) {
    const sam = /^ParameterKey=([^,]+),ParameterValue=(.*)$/.exec(word);
    const [key, value] = sam
      ? [sam[1]!, sam[2]!]
      : [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)];
    if (!word.includes("=") || key === "") {
      throw new ConfigError(`--parameter-overrides: ${JSON.stringify(word)} is not KEY=VALUE`);
    }
    out[key] = value.replace(/^"(.*)"$|^'(.*)'$/, "$1$2");
  }
  return out;
}

/** Reads `--env-vars`: `{"Fn": {"VAR": "v"}, "Parameters": {"VAR": "v"}}`, as `sam local` takes it. */
async function envVarsOf(path: string): Promise<Record<string, Record<string, string>>> {
  let data: unknown;
  try {
    data = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new ConfigError(`--env-vars ${path}: ${err instanceof Error ? err.message : err}`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError(
      `--env-vars ${path}: must be a JSON object of objects ({"Function": {"VAR": "value"}})`,
    );
  }
  const out: Record<string, Record<string, string>> = {};
  for (const [fn, vars] of Object.entries(data)) {
    if (vars === null || typeof vars !== "object" || Array.isArray(vars)) {
      throw new ConfigError(`--env-vars ${path}: ${fn}: must be an object of variables`);
    }
    out[fn] = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]));
  }
  return out;
}

/**
 * Reads the template into a plan and the configuration serving it (host
 * 127.0.0.1 and port 3000 unless flags or `LRP_*` variables say otherwise).
 * Throws {@linkcode ConfigError}.
 */
export async function loadStartApi(
  options: StartApiOptions,
  inputs: { env: Record<string, string | undefined>; flags: Record<string, string | undefined> },
): Promise<StartApi> {
  const template = findTemplate(options.template);
  let text: string;
  try {
    text = await Deno.readTextFile(template);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Error
      ? err.message
      : err;
    throw new ConfigError(`${template}: cannot read the template: ${why}`);
  }
  const data = parseTemplateText(text, template);
  const region = inputs.flags.region || inputs.env.LRP_REGION || inputs.env.AWS_REGION ||
    inputs.env.AWS_DEFAULT_REGION || "us-east-1";
  const regionOption = inputs.flags.region || inputs.env.LRP_REGION || undefined;
  const overrides = parseOverrides(options.parameterOverrides);
  let plan: Plan;
  if (isServerlessFile(data)) {
    plan = readServerless(data, {
      source: template,
      region,
      ...(regionOption !== undefined && { regionOption }),
      ...(options.stage !== undefined && { stage: options.stage }),
      env: inputs.env,
      files: DISK,
      readFile: (path) => readDataFile(resolve(dirname(template), path)),
      dotenv: (stage) => {
        const read = (name: string) => {
          try {
            return Deno.readTextFileSync(resolve(dirname(template), name));
          } catch {
            return undefined;
          }
        };
        return parseDotenv(read(`.env.${stage}`) ?? read(".env") ?? "");
      },
    });
  } else if (isSamTemplate(data)) {
    plan = readSam(data, { source: template, parameterOverrides: overrides, region, files: DISK });
    if (options.stage !== undefined) {
      for (const api of Object.values(plan.apis)) api.stage = options.stage;
    }
  } else {
    throw new ConfigError(
      `${template}: neither a SAM template (no Resources) nor a serverless.yml (no service and functions)`,
    );
  }
  const inlineDirs: string[] = [];
  try {
    return await planToStartApi(plan, template, region, options, inputs, inlineDirs);
  } catch (err) {
    await removeDirs(inlineDirs);
    throw err;
  }
}

/** Removes folders written for inline code; one already gone is no matter. */
export async function removeDirs(dirs: readonly string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => Deno.remove(dir, { recursive: true }).catch(() => {})));
}

/** The rest of {@linkcode loadStartApi}: inline code written out (each folder put in `inlineDirs`), then the rules. */
async function planToStartApi(
  plan: Plan,
  template: string,
  region: string,
  options: StartApiOptions,
  inputs: { env: Record<string, string | undefined>; flags: Record<string, string | undefined> },
  inlineDirs: string[],
): Promise<StartApi> {
  for (const fn of plan.functions) {
    if (!fn.inlineCode) continue;
    fn.code = await Deno.makeTempDir({ prefix: "lrp-inline-" });
    inlineDirs.push(fn.code);
    await Deno.writeTextFile(join(fn.code, fn.inlineCode.file), fn.inlineCode.text);
  }
  if (options.envVars) {
    const vars = await envVarsOf(options.envVars);
    for (const fn of plan.functions) {
      fn.environment = { ...fn.environment, ...vars.Parameters, ...vars[fn.id], ...vars[fn.name] };
    }
  }
  const origins: string[] = [];
  const serve = { stageInPath: options.stageInPath, watch: options.watch, hostname: "*" };
  const file = {
    host: "127.0.0.1",
    port: 3000,
    region: plan.region ?? region,
    functions: planToConfig(plan, serve, origins),
  };
  const generated = JSON.stringify(file, null, 1);
  // The line each generated rule starts on, for a message pointing at another rule (`also at FILE:LINE`).
  const starts = generated.split("\n").flatMap((line, i) => line === "  {" ? [i + 1] : []);
  const originAt = (line: number) => origins[starts.findLastIndex((start) => start <= line)];
  let config: Config;
  try {
    config = parseConfig(generated, {
      source: template,
      env: inputs.env,
      flags: inputs.flags,
    });
    checkFunctionFiles(config, inputs.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Each message about a generated rule names where the rule came from, not a line of text nobody wrote.
    const problems = err.problems.map((problem) => {
      const m = /^.*?:\d+: functions\[(\d+)\]\.?(.*)$/s.exec(problem);
      if (!m || origins[Number(m[1])] === undefined) return problem;
      const detail = m[2]!.replace(/\(also at .*:(\d+)\)/, (also, line) => {
        const other = originAt(Number(line));
        return other === undefined ? also : `(also ${other})`;
      });
      return `${template}: ${origins[Number(m[1])]}: ${detail}`;
    });
    throw new ConfigError(problems[0]!, problems);
  }
  return { template, plan, config, inlineDirs };
}

/** The version of each interpreter the plan needs (`node --version` → `20.11.1`), asked in parallel. */
export async function interpreterVersions(plan: Plan): Promise<Partial<Record<FunctionRuntime, string>>> {
  const wanted = new Set(plan.functions.map((f) => f.lrpRuntime));
  const ask = async (runtime: FunctionRuntime, command: string, args: string[]) => {
    if (!wanted.has(runtime)) return [];
    try {
      const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", stdin: "null" })
        .output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      const version = /(\d+\.\d+\.\d+)/.exec(text)?.[1];
      return version ? [[runtime, version] as const] : [];
    } catch {
      return [];
    }
  };
  const found = await Promise.all([
    ask("nodejs", "node", ["--version"]),
    ask("python", "python3", ["--version"]),
    ask("deno", Deno.execPath().endsWith("deno") ? Deno.execPath() : "deno", ["--version"]),
  ]);
  return Object.fromEntries(found.flat());
}

/** The route table lines of a loaded start-api, for the start-up output and `lrp check --template`. */
export function routeLines(
  loaded: StartApi,
  stageInPath: boolean,
  versions: Partial<Record<FunctionRuntime, string>>,
  port = loaded.config.port,
): string[] {
  const host = loaded.config.host === "0.0.0.0" || loaded.config.host === "::"
    ? "127.0.0.1"
    : loaded.config.host;
  const base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  return describePlan(loaded.plan, base, stageInPath, versions);
}

/** The largest file `${file(…)}` reads: far beyond any configuration file. */
const MAX_DATA_FILE = 64 * 1024 * 1024;

/**
 * A JSON or YAML file's data for `${file(…)}`, or `undefined` when it does
 * not exist. A device (`/dev/zero`), a folder or a file over 64 MiB is a
 * {@linkcode VariableProblem}, never an endless read.
 */
function readDataFile(path: string): unknown {
  let text: string;
  try {
    const info = Deno.statSync(path);
    if (!info.isFile) throw new VariableProblem("not a regular file");
    if (info.size > MAX_DATA_FILE) throw new VariableProblem(`over ${MAX_DATA_FILE} bytes`);
    text = Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof VariableProblem) throw err;
    return undefined;
  }
  return parseTemplateText(text, path);
}

/** Reads start-api's flags (parsed by main.ts) into {@linkcode StartApiOptions}. Throws {@linkcode ConfigError}. */
export function startApiOptionsOf(values: Record<string, unknown>): StartApiOptions {
  const warm = String(values["warm-containers"] ?? "LAZY").toUpperCase();
  if (warm !== "EAGER" && warm !== "LAZY") {
    throw new ConfigError(
      `--warm-containers: ${JSON.stringify(values["warm-containers"])} must be EAGER or LAZY`,
    );
  }
  const text = (k: string) => typeof values[k] === "string" ? values[k] as string : undefined;
  const template = text("template");
  const stage = text("stage");
  const envVars = text("env-vars");
  return {
    ...(template !== undefined && { template }),
    ...(stage !== undefined && { stage }),
    ...(envVars !== undefined && { envVars }),
    stageInPath: values["stage-in-path"] === true,
    parameterOverrides: (values["parameter-overrides"] as string[] | undefined) ?? [],
    warm,
    watch: values["no-watch"] !== true,
  };
}

/**
 * One start-api run: its template, and each load of it (at start-up and on
 * every reload), with the route table of the last load.
 */
export class StartApiSession {
  /** The template being served. */
  readonly template: string;
  /** The last successful load. */
  last: StartApi | undefined;
  #versions: Partial<Record<FunctionRuntime, string>> | undefined;

  /** Finds the template; throws {@linkcode ConfigError} when there is none. */
  constructor(
    readonly options: StartApiOptions,
    private inputs: { env: Record<string, string | undefined>; flags: Record<string, string | undefined> },
  ) {
    this.template = findTemplate(options.template);
  }

  /**
   * Reads the template into a configuration. Throws {@linkcode ConfigError}.
   * The inline code of the load before is removed: its generation only
   * drains (its processes already hold their code).
   */
  async load(): Promise<Config> {
    const loaded = await loadStartApi({ ...this.options, template: this.template }, this.inputs);
    const before = this.last;
    this.last = loaded;
    if (before) await removeDirs(before.inlineDirs);
    return loaded.config;
  }

  /** Removes what the session wrote (the inline code of the last load). */
  async close(): Promise<void> {
    if (this.last) await removeDirs(this.last.inlineDirs);
  }

  /**
   * Asks the interpreters the last load needs for their versions, for
   * {@linkcode routeLines}; again only when a load needs another runtime.
   */
  async prepare(): Promise<void> {
    const plan = this.last?.plan;
    if (!plan) return;
    const known = this.#versions ?? {};
    if (this.#versions && plan.functions.every((f) => !f.lrpRuntime || f.lrpRuntime in known)) return;
    this.#versions = await interpreterVersions(plan);
  }

  /** The route table of the last load, served on `port`. */
  routeLines(port?: number): string[] {
    return this.last ? routeLines(this.last, this.options.stageInPath, this.#versions ?? {}, port) : [];
  }
}
