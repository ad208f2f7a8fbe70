/**
 * Reads a Serverless Framework (v3/v4) `serverless.yml` into a
 * {@linkcode Plan}: `provider` defaults (runtime, stage `dev`, timeout 6 s,
 * memorySize 1024, environment merged with each function's), each
 * `functions.<name>`, its `httpApi` events (an HTTP API, stage `$default`)
 * and `http` events (a REST API, payload 1.0, stage `${sls:stage}`), with
 * `provider.httpApi.cors` and `http.cors`. Variables are resolved key by key
 * (`serverless_vars.ts`), so a key lrp does not read cannot stop it.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { ConfigError } from "../config/types.ts";
import type { ApiPlan, CorsPlan, FunctionPlan, Plan, RoutePlan } from "./plan.ts";
import { TemplateProblem } from "./plan.ts";
import { type Files, findHandlerFile, handlerStem, lrpRuntimeOf, TYPESCRIPT_EXTENSIONS } from "./runtimes.ts";
import { parseRouteKey } from "../route/route_key.ts";
import { resolveVariables, TooManyValues, VariableProblem, type VariableScope } from "./serverless_vars.ts";

/** What a `serverless.yml` is read with. */
export interface ServerlessOptions {
  source: string;
  /** lrp's region, when neither `regionOption` nor `provider.region` sets one. */
  region: string;
  /** A region given to lrp explicitly (`--region`, `LRP_REGION`): `${opt:region}`, which beats `provider.region`. */
  regionOption?: string;
  /** `--stage` (`${opt:stage}`). */
  stage?: string;
  env: Record<string, string | undefined>;
  files: Files;
  /**
   * The variables of the service's `.env.<stage>` (else `.env`) file, which
   * `${env:…}` sees under the real environment, as the Framework (v4) loads them.
   */
  dotenv?: (stage: string) => Record<string, string>;
  /** Reads and parses a file for `${file(…)}`; `undefined` when it does not exist. */
  readFile?: (path: string) => unknown;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Whether parsed data looks like a `serverless.yml` (a `service` and `functions` or `provider`). */
export function isServerlessFile(data: unknown): boolean {
  return isMap(data) && data.service !== undefined && (isMap(data.functions) || isMap(data.provider));
}

/** The headers `cors: true` allows, as the Serverless Framework sets them. */
export const SERVERLESS_CORS_HEADERS = [
  "Content-Type",
  "X-Amz-Date",
  "Authorization",
  "X-Api-Key",
  "X-Amz-Security-Token",
  "X-Amz-User-Agent",
  "X-Amzn-Trace-Id",
];

/** The logical ids the Serverless Framework gives its two APIs. */
export const SERVERLESS_HTTP_API = "HttpApi";
/** The REST API's logical id. */
export const SERVERLESS_REST_API = "ApiGatewayRestApi";

/** Reads a parsed `serverless.yml`. Throws {@linkcode ConfigError}. */
export function readServerless(data: unknown, options: ServerlessOptions): Plan {
  try {
    return read(data as Record<string, unknown>, options);
  } catch (err) {
    if (err instanceof TemplateProblem || err instanceof TooManyValues) {
      throw new ConfigError(`${options.source}: ${err.message}`);
    }
    throw err;
  }
}

function read(data: Record<string, unknown>, options: ServerlessOptions): Plan {
  const warnings: string[] = [];
  const scope: VariableScope = {
    self: data,
    env: options.env,
    options: { stage: options.stage, region: options.regionOption },
    stage: "dev",
    region: options.region,
    readFile: options.readFile ?? (() => undefined),
  };
  const get = (value: unknown, where: string): unknown => {
    try {
      return resolveVariables(value, scope);
    } catch (err) {
      if (err instanceof VariableProblem) throw new TemplateProblem(`${where}: ${err.message}`);
      throw err;
    }
  };
  const provider = isMap(data.provider) ? data.provider : {};
  scope.stage = String(options.stage ?? get(provider.stage, "provider.stage") ?? "dev");
  scope.env = { ...options.dotenv?.(scope.stage), ...options.env };
  scope.region = String(options.regionOption ?? get(provider.region, "provider.region") ?? options.region);
  const service = String(get(data.service, "service"));
  const httpApi = isMap(provider.httpApi) ? provider.httpApi : {};
  const apis: Record<string, ApiPlan> = {};
  const functions: FunctionPlan[] = [];
  const dir = dirname(resolve(options.source));
  const providerEnv = environment(provider.environment, "provider.environment", get, warnings);
  for (const [key, raw] of Object.entries(isMap(data.functions) ? data.functions : {})) {
    const where = `functions.${key}`;
    if (!isMap(raw)) throw new TemplateProblem(`${where}: must be a mapping with handler`);
    const fget = (k: string) => get(raw[k], `${where}.${k}`);
    const pget = (k: string) => get(provider[k], `provider.${k}`);
    const fn: FunctionPlan = {
      id: key,
      name: String(fget("name") ?? `${service}-${scope.stage}-${key}`),
      runtime: String(fget("runtime") ?? pget("runtime") ?? ""),
      handler: String(fget("handler") ?? ""),
      code: dir,
      timeoutS: Number(fget("timeout") ?? pget("timeout") ?? 6),
      memoryMb: Number(fget("memorySize") ?? pget("memorySize") ?? 1024),
      environment: { ...providerEnv, ...environment(raw.environment, `${where}.environment`, get, warnings) },
      routes: [],
      where,
    };
    const reserved = fget("reservedConcurrency");
    if (reserved !== undefined) {
      fn.concurrency = Number(reserved);
      if (!(fn.concurrency >= 1)) {
        throw new TemplateProblem(`${where}.reservedConcurrency: lrp needs at least 1 to serve the function`);
      }
    }
    const fnPayload = isMap(raw.httpApi) ? get(raw.httpApi.payload, `${where}.httpApi.payload`) : undefined;
    fn.routes = events(raw.events, where, get, apis, {
      httpApi,
      provider,
      stage: scope.stage,
      warnings,
      ...(fnPayload !== undefined && { payload: String(fnPayload) }),
    });
    if (raw.image !== undefined) {
      fn.notServed = `image: lrp runs handler code itself; run the image (its RIE answers on port 8080) ` +
        `and serve it with a local: rule in an lrp.yaml (docs/start-api.md, "Image functions")`;
      functions.push(fn);
      continue;
    }
    if (fn.runtime === "") throw new TemplateProblem(`${where}.runtime: missing, and no provider.runtime`);
    if (fn.handler === "") throw new TemplateProblem(`${where}.handler: missing (path/file.export)`);
    const mapped = lrpRuntimeOf(fn.runtime);
    if ("reason" in mapped) fn.notServed = mapped.reason;
    else {
      fn.lrpRuntime = mapped.runtime;
      if (!findHandlerFile(dir, fn.handler, mapped.runtime, options.files)) {
        const stem = handlerStem(fn.handler, mapped.runtime);
        const ts = mapped.runtime === "nodejs"
          ? TYPESCRIPT_EXTENSIONS.find((e) => options.files.isFile(resolve(dir, stem + e)))
          : undefined;
        if (!ts) {
          throw new TemplateProblem(
            `${where}.handler: ${dir} has no file ${stem}${
              mapped.runtime === "python" ? ".py" : " (.js, .mjs, .cjs)"
            }`,
          );
        }
        fn.lrpRuntime = "deno";
        fn.codeNote = `TypeScript source ${stem}${ts} run by deno`;
      }
    }
    functions.push(fn);
  }
  const seen = new Map<string, string>();
  for (const fn of functions) {
    for (const route of fn.routes) {
      const prev = seen.get(route.key);
      if (prev) throw new TemplateProblem(`${fn.where}: route ${route.key} is also declared by ${prev}`);
      seen.set(route.key, fn.where);
    }
  }
  return { source: options.source, format: "serverless", region: scope.region, apis, functions, warnings };
}

type Get = (value: unknown, where: string) => unknown;

/** A map of variables, each resolved alone: one that cannot be is left out with a warning. */
function environment(raw: unknown, where: string, get: Get, warnings: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isMap(raw)) return out;
  for (const [k, v] of Object.entries(raw)) {
    try {
      const value = get(v, `${where}.${k}`);
      if (value === null || typeof value === "object") {
        warnings.push(`${where}.${k}: ${JSON.stringify(value)} is not a string; the variable is left out`);
      } else out[k] = String(value);
    } catch (err) {
      if (!(err instanceof TemplateProblem)) throw err;
      warnings.push(`${err.message}; the variable is left out`);
    }
  }
  return out;
}

interface EventContext {
  httpApi: Record<string, unknown>;
  /** The function's own `httpApi.payload`, which beats the provider's. */
  payload?: string;
  provider: Record<string, unknown>;
  stage: string;
  warnings: string[];
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]);

function events(
  raw: unknown,
  fnWhere: string,
  get: Get,
  apis: Record<string, ApiPlan>,
  ctx: EventContext,
): RoutePlan[] {
  const routes: RoutePlan[] = [];
  if (!Array.isArray(raw)) return routes;
  for (const [i, event] of raw.entries()) {
    const where = `${fnWhere}.events[${i}]`;
    if (!isMap(event)) continue;
    const type = Object.keys(event)[0];
    if (type === "httpApi") {
      const value = get(event.httpApi, `${where}.httpApi`);
      const route = httpApiRoute(value, `${where}.httpApi`);
      apis[SERVERLESS_HTTP_API] ??= {
        id: SERVERLESS_HTTP_API,
        kind: "http",
        stage: "$default",
        stageVariables: {},
        ...httpApiCors(get(ctx.httpApi.cors, "provider.httpApi.cors"), routes),
        notEnforced: [],
      };
      const payload = String(
        (isMap(value) ? value.payload : undefined) ?? ctx.payload ??
          get(ctx.httpApi.payload, "provider.httpApi.payload") ??
          "2.0",
      );
      routes.push({
        key: route,
        api: SERVERLESS_HTTP_API,
        payloadFormat: payload === "1.0" ? "1.0" : "2.0",
        notEnforced: isMap(value) && value.authorizer !== undefined
          ? [
            `authorizer ${
              JSON.stringify(isMap(value.authorizer) ? value.authorizer.name : value.authorizer)
            } (every request is let through)`,
          ]
          : [],
      });
    } else if (type === "http") {
      const value = get(event.http, `${where}.http`);
      const { key, cors, notEnforced } = httpRoute(value, `${where}.http`);
      const api = apis[SERVERLESS_REST_API] ??= {
        id: SERVERLESS_REST_API,
        kind: "rest",
        stage: ctx.stage,
        stageVariables: {},
        notEnforced: [],
      };
      if (cors) {
        // Events differing only in their method share one setting that allows all of them.
        const methods = [...new Set([...api.cors?.allow_methods ?? [], ...cors.allow_methods ?? []])];
        const same = (c: CorsPlan) => JSON.stringify({ ...c, allow_methods: [] });
        if (api.cors && same(api.cors) !== same(cors)) {
          ctx.warnings.push(
            `${where}.http.cors: differs from another event's; lrp applies one CORS setting per API (the first)`,
          );
        } else api.cors = { ...cors, ...(methods.length > 0 && { allow_methods: methods }) };
      }
      routes.push({ key, api: SERVERLESS_REST_API, payloadFormat: "1.0", notEnforced });
    } else {
      ctx.warnings.push(
        `${where}: event type ${type} is not emulated (only httpApi and http events are served)`,
      );
    }
  }
  return routes;
}

/** `key` when API Gateway accepts it as a route key; else a problem naming `where`. */
function checkedKey(key: string, where: string): string {
  const parsed = parseRouteKey(key);
  if (typeof parsed === "string") throw new TemplateProblem(`${where}: ${JSON.stringify(key)}: ${parsed}`);
  return key;
}

function httpApiRoute(value: unknown, where: string): string {
  let method: string;
  let path: string;
  if (typeof value === "string") {
    if (value.trim() === "*") return "$default";
    const m = /^\s*([A-Za-z*]+)\s+(\S+)\s*$/.exec(value);
    if (!m) throw new TemplateProblem(`${where}: ${JSON.stringify(value)} must be "METHOD /path" or "*"`);
    [method, path] = [m[1]!, m[2]!];
  } else if (isMap(value)) {
    method = String(value.method ?? "*");
    path = String(value.path ?? "*");
    if (path === "*") {
      if (method !== "*") {
        throw new TemplateProblem(`${where}.path: "*" (the $default route) takes no method`);
      }
      return "$default";
    }
  } else throw new TemplateProblem(`${where}: must be "METHOD /path", "*" or {method, path}`);
  const verb = method === "*" ? "ANY" : method.toUpperCase();
  if (!METHODS.has(verb)) {
    throw new TemplateProblem(`${where}: ${JSON.stringify(method)} is not an HTTP method`);
  }
  if (!path.startsWith("/")) {
    throw new TemplateProblem(`${where}: path ${JSON.stringify(path)} must start with /`);
  }
  return checkedKey(`${verb} ${path}`, where);
}

/** `provider.httpApi.cors`: `true` is origin `*`, the default headers, and the methods used. */
function httpApiCors(value: unknown, _routes: RoutePlan[]): { cors?: CorsPlan } {
  if (value === undefined || value === null || value === false) return {};
  if (value === true) {
    return { cors: { allow_origins: ["*"], allow_headers: SERVERLESS_CORS_HEADERS, allow_methods: ["*"] } };
  }
  if (!isMap(value)) throw new TemplateProblem(`provider.httpApi.cors: must be true or a mapping`);
  const cors: CorsPlan = {};
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]).map(String);
  if (value.allowedOrigins !== undefined) cors.allow_origins = list(value.allowedOrigins);
  if (value.allowedHeaders !== undefined) cors.allow_headers = list(value.allowedHeaders);
  if (value.allowedMethods !== undefined) cors.allow_methods = list(value.allowedMethods);
  if (value.exposedResponseHeaders !== undefined) cors.expose_headers = list(value.exposedResponseHeaders);
  if (value.maxAge !== undefined) cors.max_age = Number(value.maxAge);
  if (value.allowCredentials !== undefined) cors.allow_credentials = value.allowCredentials === true;
  return { cors };
}

function httpRoute(value: unknown, where: string): { key: string; cors?: CorsPlan; notEnforced: string[] } {
  let method: string;
  let path: string;
  let spec: Record<string, unknown> = {};
  if (typeof value === "string") {
    const m = /^\s*([A-Za-z*]+)\s+(\S+)\s*$/.exec(value);
    if (!m) throw new TemplateProblem(`${where}: ${JSON.stringify(value)} must be "METHOD path"`);
    [method, path] = [m[1]!, m[2]!];
  } else if (isMap(value)) {
    spec = value;
    if (value.method === undefined || value.path === undefined) {
      throw new TemplateProblem(
        `${where}.${value.method === undefined ? "method" : "path"}: missing (required)`,
      );
    }
    [method, path] = [String(value.method), String(value.path)];
  } else throw new TemplateProblem(`${where}: must be "METHOD path" or {method, path}`);
  const verb = method === "*" ? "ANY" : method.toUpperCase();
  if (!METHODS.has(verb)) {
    throw new TemplateProblem(`${where}: ${JSON.stringify(method)} is not an HTTP method`);
  }
  const key = checkedKey(`${verb} /${path.replace(/^\/+/, "")}`, where);
  const notEnforced: string[] = [];
  if (spec.authorizer !== undefined) notEnforced.push("authorizer (every request is let through)");
  if (spec.private === true) {
    notEnforced.push("API key (private: true; requests without one are let through)");
  }
  let cors: CorsPlan | undefined;
  if (spec.cors === true) {
    cors = { allow_origins: ["*"], allow_headers: SERVERLESS_CORS_HEADERS, allow_methods: ["OPTIONS", verb] };
  } else if (isMap(spec.cors)) {
    const c = spec.cors;
    const list = (v: unknown) => (Array.isArray(v) ? v : [v]).map(String);
    cors = { allow_origins: list(c.origins ?? c.origin ?? "*") };
    cors.allow_headers = c.headers === undefined ? SERVERLESS_CORS_HEADERS : list(c.headers);
    if (c.methods !== undefined) cors.allow_methods = list(c.methods);
    if (c.maxAge !== undefined) cors.max_age = Number(c.maxAge);
    if (c.allowCredentials !== undefined) cors.allow_credentials = c.allowCredentials === true;
  }
  return { key, ...(cors && { cors }), notEnforced };
}
