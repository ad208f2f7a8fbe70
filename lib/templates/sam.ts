/**
 * Reads an AWS SAM template into a {@linkcode Plan}: its
 * `AWS::Serverless::Function` resources (Zip packages) with `Globals.Function`
 * merged, their `HttpApi` and `Api` events as routes, the APIs those name,
 * and `FunctionUrlConfig`. Intrinsic functions are resolved property by
 * property, only where lrp needs the value (`intrinsics.ts`). Every mistake
 * is one `ConfigError` naming the file, the resource and the property.
 *
 * @module
 */

import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { ConfigError } from "../config/types.ts";
import {
  type CfnScope,
  condition,
  NO_VALUE,
  pseudoParameters,
  resolveValue,
  Unresolvable,
} from "./intrinsics.ts";
import type { ApiPlan, FunctionPlan, Plan } from "./plan.ts";
import { TemplateProblem } from "./plan.ts";
import { type Files, findHandlerFile, handlerStem, lrpRuntimeOf, TYPESCRIPT_EXTENSIONS } from "./runtimes.ts";
import { declaredApis, httpCors, mergeGlobals, type Resolver } from "./sam_apis.ts";
import { checkDuplicates, readEvents } from "./sam_events.ts";

/** What a SAM template is read with. */
export interface SamOptions {
  /** The template's path (names it in messages; relative `CodeUri`s start from its folder). */
  source: string;
  /** `--parameter-overrides`, by parameter name. */
  parameterOverrides: Record<string, string>;
  /** lrp's region: `AWS::Region`. */
  region: string;
  files: Files;
}

type Resource = Record<string, unknown>;

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Whether parsed data looks like a SAM/CloudFormation template. */
export function isSamTemplate(data: unknown): boolean {
  return isMap(data) && isMap(data.Resources);
}

/** Reads a parsed SAM template. Throws {@linkcode ConfigError}. */
export function readSam(data: unknown, options: SamOptions): Plan {
  try {
    return read(data, options);
  } catch (err) {
    if (err instanceof TemplateProblem) throw new ConfigError(`${options.source}: ${err.message}`);
    throw err;
  }
}

function read(data: unknown, options: SamOptions): Plan {
  if (!isSamTemplate(data)) throw new TemplateProblem("Resources: missing; this is not a SAM template");
  const t = data as Record<string, unknown>;
  const resources = t.Resources as Record<string, Resource>;
  const scope = scopeOf(t, options);
  const resolver: Resolver = (value, where) => {
    try {
      const v = resolveValue(value, scope);
      return v === NO_VALUE ? undefined : v;
    } catch (err) {
      if (err instanceof Unresolvable) {
        throw new TemplateProblem(`${where}: cannot be resolved locally: ${err.message}`);
      }
      throw err;
    }
  };
  const globals = isMap(t.Globals) ? t.Globals : {};
  const warnings: string[] = [];
  const active = Object.entries(resources).filter(([id, r]) => {
    if (!isMap(r)) throw new TemplateProblem(`Resources.${id}: must be a mapping with Type`);
    if (r.Condition === undefined) return true;
    try {
      return condition(r.Condition, scope);
    } catch (err) {
      if (err instanceof Unresolvable) throw new TemplateProblem(`Resources.${id}.Condition: ${err.message}`);
      throw err;
    }
  });
  const activeResources = Object.fromEntries(active);
  const apis: Record<string, ApiPlan> = declaredApis(activeResources, globals, resolver);
  const functions: FunctionPlan[] = [];
  const ignored: string[] = [];
  for (const [id, r] of active) {
    if (r.Type === "AWS::Serverless::Function") {
      functions.push(readFunction(id, r, { ...options, globals, resolver, apis, warnings, resources }));
    } else if (r.Type !== "AWS::Serverless::HttpApi" && r.Type !== "AWS::Serverless::Api") {
      ignored.push(`${id} (${r.Type})`);
    }
  }
  if (ignored.length > 0) warnings.push(`resources not emulated (ignored): ${ignored.join(", ")}`);
  checkDuplicates(functions);
  return { source: options.source, format: "sam", apis, functions, warnings };
}

function scopeOf(t: Record<string, unknown>, options: SamOptions): CfnScope {
  const parameters: Record<string, string | string[]> = pseudoParameters(options.region);
  const unset = new Set<string>();
  const declared = isMap(t.Parameters) ? t.Parameters : {};
  for (const [name, p] of Object.entries(declared)) {
    const spec = isMap(p) ? p : {};
    const raw = options.parameterOverrides[name] ?? spec.Default;
    if (raw === undefined || raw === null) {
      unset.add(name);
      continue;
    }
    const type = String(spec.Type ?? "String");
    parameters[name] = type === "CommaDelimitedList" || type.startsWith("List<")
      ? String(raw).split(",").map((s) => s.trim())
      : String(raw);
  }
  // Overrides may also set pseudo parameters, as with `sam local`.
  for (const [name, value] of Object.entries(options.parameterOverrides)) {
    if (name.startsWith("AWS::")) parameters[name] = value;
  }
  const resources: Record<string, string> = {};
  for (const [id, r] of Object.entries(t.Resources as Record<string, Resource>)) {
    resources[id] = String(isMap(r) ? r.Type : "");
  }
  return {
    parameters,
    unset,
    resources,
    mappings: isMap(t.Mappings) ? t.Mappings : {},
    conditions: isMap(t.Conditions) ? t.Conditions : {},
    region: String(parameters["AWS::Region"]),
    accountId: String(parameters["AWS::AccountId"]),
  };
}

interface FunctionContext extends SamOptions {
  globals: Record<string, unknown>;
  resolver: Resolver;
  apis: Record<string, ApiPlan>;
  warnings: string[];
  resources: Record<string, Resource>;
}

function readFunction(id: string, r: Resource, ctx: FunctionContext): FunctionPlan {
  const where = `Resources.${id}`;
  const at = (k: string) => `${where}.Properties.${k}`;
  const props = mergeGlobals(ctx.globals.Function, r.Properties ?? {}) as Record<string, unknown>;
  const get = (k: string) => ctx.resolver(props[k], at(k));
  const name = props.FunctionName === undefined ? id : String(get("FunctionName"));
  const fn: FunctionPlan = {
    id,
    name,
    runtime: "",
    handler: "",
    code: "",
    timeoutS: props.Timeout === undefined ? 3 : Number(get("Timeout")),
    memoryMb: props.MemorySize === undefined ? 128 : Number(get("MemorySize")),
    environment: {},
    routes: [],
    where,
  };
  if (!(fn.timeoutS > 0)) throw new TemplateProblem(`${at("Timeout")}: must be a number of seconds`);
  if (props.ReservedConcurrentExecutions !== undefined) {
    fn.concurrency = Number(get("ReservedConcurrentExecutions"));
    if (!(fn.concurrency >= 1)) {
      throw new TemplateProblem(
        `${at("ReservedConcurrentExecutions")}: lrp needs at least 1 to serve the function`,
      );
    }
  }
  if (!(fn.memoryMb >= 128)) {
    throw new TemplateProblem(`${at("MemorySize")}: must be a number of MB from 128`);
  }
  fn.routes = readEvents(id, props.Events, ctx);
  const url = isMap(props.FunctionUrlConfig) ? props.FunctionUrlConfig : undefined;
  if (url) {
    const cors = httpCors(ctx.resolver(url.Cors, at("FunctionUrlConfig.Cors")), at("FunctionUrlConfig.Cors"));
    const mode = String(ctx.resolver(url.InvokeMode, at("FunctionUrlConfig.InvokeMode")) ?? "BUFFERED");
    const auth = ctx.resolver(url.AuthType, at("FunctionUrlConfig.AuthType"));
    fn.functionUrl = {
      ...(cors && { cors }),
      invokeMode: mode === "RESPONSE_STREAM" ? "RESPONSE_STREAM" : "BUFFERED",
      notEnforced: auth === "AWS_IAM"
        ? ["AuthType AWS_IAM (requests are not checked for a SigV4 signature)"]
        : [],
    };
  }
  const layers = get("Layers");
  if (Array.isArray(layers) && layers.length > 0) {
    for (const route of fn.routes) {
      route.notEnforced.push(`${layers.length} layer(s) not loaded (${layers.join(", ")})`);
    }
    fn.functionUrl?.notEnforced.push(`${layers.length} layer(s) not loaded`);
  }
  if (String(get("PackageType") ?? "Zip") === "Image") {
    fn.runtime = "image";
    fn.notServed =
      `PackageType Image: lrp runs Zip packages itself; run the image (its RIE answers on port 8080) ` +
      `and serve it with a local: rule in an lrp.yaml (docs/start-api.md, "Image functions")`;
    return fn;
  }
  fn.runtime = String(get("Runtime") ?? "");
  if (fn.runtime === "") throw new TemplateProblem(`${at("Runtime")}: missing (required for a Zip package)`);
  const mapped = lrpRuntimeOf(fn.runtime);
  if ("reason" in mapped) {
    fn.notServed = mapped.reason;
    return fn;
  }
  fn.handler = String(get("Handler") ?? "");
  if (fn.handler === "" && mapped.runtime !== "provided") {
    throw new TemplateProblem(`${at("Handler")}: missing (required for a Zip package)`);
  }
  fn.environment = environment(props.Environment, at("Environment.Variables"), ctx);
  readCode(fn, props, mapped.runtime, r, ctx);
  return fn;
}

/** Each variable resolved alone: one that cannot be known locally is left out, with a warning. */
function environment(raw: unknown, where: string, ctx: FunctionContext): Record<string, string> {
  const vars = isMap(raw) && isMap(raw.Variables) ? raw.Variables : {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    let value: unknown;
    try {
      value = ctx.resolver(v, `${where}.${k}`);
    } catch (err) {
      if (!(err instanceof TemplateProblem)) throw err;
      ctx.warnings.push(`${err.message}; the variable is left out`);
      continue;
    }
    if (value === undefined) continue;
    if (value === null || typeof value === "object") {
      ctx.warnings.push(`${where}.${k}: ${JSON.stringify(value)} is not a string; the variable is left out`);
      continue;
    }
    out[k] = String(value);
  }
  return out;
}

/** Sets `code` (and `codeNote`, `runtime` for TypeScript sources) from `CodeUri`/`InlineCode` and the build. */
function readCode(
  fn: FunctionPlan,
  props: Record<string, unknown>,
  runtime: FunctionPlan["lrpRuntime"] & string,
  r: Resource,
  ctx: FunctionContext,
) {
  const at = (k: string) => `${fn.where}.Properties.${k}`;
  const dir = dirname(resolve(ctx.source));
  if (props.InlineCode !== undefined) {
    const text = ctx.resolver(props.InlineCode, at("InlineCode"));
    if (typeof text !== "string" || runtime === "provided") {
      throw new TemplateProblem(
        `${at("InlineCode")}: must be the code of a nodejs or python function, as a string`,
      );
    }
    // The file is written at start-up (and by `lrp check`): a name of its own folder, never a path out of it.
    const stem = handlerStem(fn.handler, runtime);
    if (!/^[A-Za-z0-9_-]+$/.test(stem)) {
      throw new TemplateProblem(
        `${at("Handler")}: ${
          JSON.stringify(fn.handler)
        }: with InlineCode the handler names a file of the inline code itself, such as index.handler`,
      );
    }
    // Written to a folder of its own at start-up, as CloudFormation writes it: CommonJS for Node.js.
    fn.inlineCode = {
      file: `${stem}${runtime === "python" ? ".py" : ".js"}`,
      text,
    };
    fn.lrpRuntime = runtime;
    fn.codeNote = "InlineCode";
    return;
  }
  const uri = ctx.resolver(props.CodeUri, at("CodeUri"));
  if (uri === undefined) {
    throw new TemplateProblem(`${at("CodeUri")}: missing (a local folder, relative to the template)`);
  }
  if (typeof uri !== "string" || uri.startsWith("s3://")) {
    fn.notServed = `CodeUri is an S3 location (${JSON.stringify(uri)}); lrp serves code from a local folder`;
    ctx.warnings.push(`${at("CodeUri")}: ${fn.id} skipped: its code is in S3`);
    return;
  }
  let code = isAbsolute(uri) ? uri : resolve(dir, uri);
  const metadata = isMap(r.Metadata) ? r.Metadata : {};
  const esbuild = metadata.BuildMethod === "esbuild";
  const inBuild = basename(dir) === "build" && basename(dirname(dir)) === ".aws-sam";
  if (esbuild && !inBuild && ctx.files.isDirectory(join(dir, ".aws-sam", "build", fn.id))) {
    code = join(dir, ".aws-sam", "build", fn.id);
    fn.codeNote = `from .aws-sam/build/${fn.id} (sam build's output)`;
  }
  if (!ctx.files.isDirectory(code)) throw new TemplateProblem(`${at("CodeUri")}: no such folder: ${code}`);
  fn.code = code;
  fn.lrpRuntime = runtime;
  if (findHandlerFile(code, fn.handler, runtime, ctx.files)) return;
  const stem = handlerStem(fn.handler, runtime);
  const ts = runtime === "nodejs"
    ? TYPESCRIPT_EXTENSIONS.find((e) => ctx.files.isFile(join(code, stem + e)))
    : undefined;
  if (ts) {
    // No build to run: Node cannot run TypeScript, lrp's deno runtime can.
    fn.lrpRuntime = "deno";
    fn.codeNote = `TypeScript source ${stem}${ts} run by deno (no sam build output)`;
    return;
  }
  const what = runtime === "provided"
    ? "an executable file named bootstrap"
    : `file ${stem}${runtime === "python" ? ".py" : ".js, .mjs or .cjs"}`;
  throw new TemplateProblem(
    `${at(runtime === "provided" ? "CodeUri" : "Handler")}: ${code} has no ${what} (Handler ${fn.handler})`,
  );
}
