/**
 * What a SAM template or a `serverless.yml` says lrp should serve — the
 * {@linkcode Plan} both readers produce — and its translation into the
 * object an `lrp.yaml` would parse to ({@linkcode planToConfig}): one
 * `functions:` rule per function and API, with its routes. From there the
 * normal configuration parser and server take over, so everything a
 * `functions:` rule does applies. Pure.
 *
 * @module
 */

import type { FunctionRuntime } from "../route/rule.ts";

/** CORS as a `cors:` key takes it (HTTP API semantics, docs/routes.md). */
export interface CorsPlan {
  allow_origins?: string[];
  allow_methods?: string[];
  allow_headers?: string[];
  expose_headers?: string[];
  max_age?: number;
  allow_credentials?: boolean;
}

/** One API: the rules sharing it share kind, stage, stage variables and CORS. */
export interface ApiPlan {
  /** Logical id (`ServerlessHttpApi` / `ServerlessRestApi` for SAM's implicit APIs). */
  id: string;
  kind: "http" | "rest";
  stage: string;
  stageVariables: Record<string, string>;
  cors?: CorsPlan;
  /** What this API declares that lrp does not enforce (authorizers, custom domains, …). */
  notEnforced: string[];
}

/** One route of a function. */
export interface RoutePlan {
  /** `GET /items/{id}`, `ANY /{proxy+}` or `$default`. */
  key: string;
  /** The API's id (a key of {@linkcode Plan.apis}). */
  api: string;
  payloadFormat: "2.0" | "1.0";
  /** What this route declares that lrp does not enforce (an event's `Auth`, an API key, …). */
  notEnforced: string[];
}

/** A function as lrp will run it. */
export interface FunctionPlan {
  /** Logical id (SAM) or key under `functions:` (Serverless). */
  id: string;
  /** `AWS_LAMBDA_FUNCTION_NAME`: `FunctionName`, else the id. */
  name: string;
  /** The runtime as the template names it (`nodejs20.x`). */
  runtime: string;
  /** The lrp runtime that runs it; absent when lrp cannot (then `notServed` says why). */
  lrpRuntime?: FunctionRuntime;
  /** Why the function is not served (runtime, image package, S3 code…). */
  notServed?: string;
  handler: string;
  /** Absolute path of the code folder. */
  code: string;
  /** Where the code runs from, when it matters (`.aws-sam/build/X`, `source app.ts on deno`). */
  codeNote?: string;
  /** SAM `InlineCode`: the file to write into a folder of its own, which becomes `code`. */
  inlineCode?: { file: string; text: string };
  timeoutS: number;
  memoryMb: number;
  /** Runtime processes at most (reserved concurrency); absent: {@linkcode DEFAULT_CONCURRENCY}. */
  concurrency?: number;
  environment: Record<string, string>;
  routes: RoutePlan[];
  /** A Function URL (SAM `FunctionUrlConfig`): served on its own host. */
  functionUrl?: { cors?: CorsPlan; invokeMode: "BUFFERED" | "RESPONSE_STREAM"; notEnforced: string[] };
  /** Where the function is declared: `Resources.ItemsFunction` or `functions.items`. */
  where: string;
}

/** What a template says to serve. */
export interface Plan {
  /** The template's path. */
  source: string;
  format: "sam" | "serverless";
  /** The functions' region (`AWS_REGION`) when the file sets it (`provider.region`); else lrp's. */
  region?: string;
  apis: Record<string, ApiPlan>;
  functions: FunctionPlan[];
  /** One line each: ignored resources, skipped values, variables left out. */
  warnings: string[];
}

/**
 * Runtime processes a function may run at once when its template reserves
 * none: one starts on the first request, more only while all are busy, as
 * Lambda scales (docs/start-api.md).
 */
export const DEFAULT_CONCURRENCY = 10;

/** How start-api serves a plan. */
export interface ServeOptions {
  /** Put a named stage into URLs (`/Prod/items`), as the real invoke URL has it. */
  stageInPath: boolean;
  /** Watch code folders (restart a function on change). */
  watch: boolean;
  /** Host name of the API rules (`*`: every host). */
  hostname: string;
}

/** The host name of a function's Function URL: `<name>.localhost` (lower case). */
export function functionUrlHost(name: string): string {
  return `${name.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")}.localhost`;
}

/**
 * The `functions:` rules of a plan, as an `lrp.yaml` would hold them: one
 * per served function and API it has routes on, and one per Function URL.
 * `origins`, when given, receives where each rule comes from, in order
 * (`Resources.Items on API Api`), for messages about a rule.
 */
export function planToConfig(
  plan: Plan,
  options: ServeOptions,
  origins: string[] = [],
): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (const fn of plan.functions) {
    if (!fn.lrpRuntime) continue;
    const common = {
      name: fn.name,
      runtime: fn.lrpRuntime,
      handler: fn.handler,
      code: fn.code,
      timeout: fn.timeoutS,
      memory: fn.memoryMb,
      environment: fn.environment,
      concurrency: fn.concurrency ?? DEFAULT_CONCURRENCY,
      watch_code: options.watch,
    };
    const byApi = new Map<string, RoutePlan[]>();
    for (const route of fn.routes) byApi.set(route.api, [...byApi.get(route.api) ?? [], route]);
    for (const [id, routes] of byApi) {
      const api = plan.apis[id]!;
      // A function's routes on one API share a rule only when they share the payload format.
      for (const format of ["2.0", "1.0"] as const) {
        const keys = routes.filter((r) => r.payloadFormat === format).map((r) => r.key);
        if (keys.length === 0) continue;
        origins.push(`${fn.where} on API ${api.id}`);
        rules.push({
          hostname: options.hostname,
          ...common,
          routes: keys,
          api: api.kind,
          api_id: api.id,
          stage: api.stage,
          ...(Object.keys(api.stageVariables).length > 0 && { stage_variables: api.stageVariables }),
          ...(api.cors && { cors: api.cors }),
          payload_format: format,
          stage_in_path: options.stageInPath,
        });
      }
    }
    if (fn.functionUrl) {
      origins.push(`${fn.where} (its Function URL)`);
      rules.push({
        hostname: functionUrlHost(fn.name),
        ...common,
        ...(fn.functionUrl.cors && { cors: fn.functionUrl.cors }),
        ...(fn.functionUrl.invokeMode === "RESPONSE_STREAM" && { invoke_mode: "RESPONSE_STREAM" }),
      });
    }
  }
  return rules;
}

/** Where a route is served: its method and URL (`GET http://127.0.0.1:3000/Prod/items/{id}`). */
export function routeUrl(route: RoutePlan, api: ApiPlan, base: string, stageInPath: boolean): string {
  const prefix = stageInPath && api.stage !== "$default" ? `/${api.stage}` : "";
  if (route.key === "$default") return `ANY ${base}${prefix}/* ($default)`;
  const space = route.key.indexOf(" ");
  return `${route.key.slice(0, space)} ${base}${prefix}${route.key.slice(space + 1)}`;
}

/**
 * The route table in words, as `sam local start-api` prints it, one line
 * per route (`GET http://127.0.0.1:3000/items/{id} → ItemsFunction
 * (nodejs20.x on node 20.11.1, app.handler)`), then Function URLs, the
 * functions not served or not routed, and every warning.
 */
export function describePlan(
  plan: Plan,
  base: string,
  stageInPath: boolean,
  versions: Partial<Record<FunctionRuntime, string>>,
): string[] {
  const lines: string[] = [];
  const runsOn = (fn: FunctionPlan) => {
    const on = fn.lrpRuntime === "provided"
      ? "its bootstrap"
      : `${fn.lrpRuntime === "nodejs" ? "node" : fn.lrpRuntime} ${
        versions[fn.lrpRuntime!] ?? "(version unknown)"
      }`;
    return `${fn.runtime} on ${on}${fn.handler ? `, ${fn.handler}` : ""}${
      fn.codeNote ? `, ${fn.codeNote}` : ""
    }`;
  };
  for (const fn of plan.functions) {
    if (!fn.lrpRuntime) continue;
    for (const route of fn.routes) {
      const api = plan.apis[route.api]!;
      const kind = api.kind === "rest" ? "REST" : "HTTP API";
      const stage = api.stage === "$default" ? "" : `, stage ${api.stage}`;
      const format = route.payloadFormat === (api.kind === "rest" ? "1.0" : "2.0")
        ? ""
        : `, payload ${route.payloadFormat}`;
      lines.push(
        `${routeUrl(route, api, base, stageInPath)} → ${fn.id} (${
          runsOn(fn)
        }) [${kind} ${api.id}${stage}${format}]`,
      );
    }
  }
  const port = new URL(base).port;
  for (const fn of plan.functions) {
    if (fn.lrpRuntime && fn.functionUrl) {
      lines.push(
        `ANY http://${functionUrlHost(fn.name)}:${port}/* → ${fn.id} (${runsOn(fn)}) [Function URL]`,
      );
    }
  }
  for (const fn of plan.functions) {
    if (fn.notServed) lines.push(`not served: ${fn.id}: ${fn.notServed}`);
    else if (fn.routes.length === 0 && !fn.functionUrl) {
      lines.push(`not routed: ${fn.id} (${fn.where}) has no HttpApi or Api event`);
    }
  }
  for (const fn of plan.functions) {
    if (!fn.lrpRuntime) continue;
    for (const route of fn.routes) {
      const notEnforced = [...plan.apis[route.api]!.notEnforced, ...route.notEnforced];
      if (notEnforced.length > 0) {
        lines.push(`warning: ${route.key} → ${fn.id}: not enforced locally: ${notEnforced.join("; ")}`);
      }
    }
    if (fn.functionUrl && fn.functionUrl.notEnforced.length > 0) {
      lines.push(
        `warning: Function URL of ${fn.id}: not enforced locally: ${fn.functionUrl.notEnforced.join("; ")}`,
      );
    }
  }
  for (const w of plan.warnings) lines.push(`warning: ${w}`);
  return lines;
}

/**
 * A mistake in a template, its message starting with the key path
 * (`Resources.ItemsFunction.Properties.CodeUri: …`); the reader prefixes the
 * file's name when it turns it into a `ConfigError`.
 */
export class TemplateProblem extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TemplateProblem";
  }
}
