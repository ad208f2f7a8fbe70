/**
 * The APIs of a SAM template: `AWS::Serverless::HttpApi` and
 * `AWS::Serverless::Api` resources (stage name, stage variables, CORS, what
 * is declared but not enforced locally) and SAM's implicit
 * `ServerlessHttpApi` (stage `$default`) and `ServerlessRestApi` (stage
 * `Prod`), with `Globals.HttpApi` / `Globals.Api` merged in. Also the
 * `Globals` merge itself. Pure.
 *
 * @module
 */

import { type ApiPlan, type CorsPlan, TemplateProblem } from "./plan.ts";

/** Resolves one property of a resource, naming it in any error. */
export type Resolver = (value: unknown, where: string) => unknown;

/** A CloudFormation intrinsic (`{"Ref": …}`, `{"Fn::…": …}`): merged as a whole value, never key by key. */
function isIntrinsic(v: unknown): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === "Ref" || keys[0] === "Condition" || keys[0]!.startsWith("Fn::"));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !isIntrinsic(v);
}

/**
 * A resource's properties with a `Globals` section merged in, as SAM merges
 * them: a primitive is replaced by the resource's, maps are merged key by
 * key (the resource wins), lists are concatenated with the global entries
 * first.
 */
export function mergeGlobals(global: unknown, local: unknown): unknown {
  if (local === undefined) return global;
  if (global === undefined) return local;
  if (Array.isArray(global) && Array.isArray(local)) return [...global, ...local];
  if (isMap(global) && isMap(local)) {
    const out: Record<string, unknown> = { ...global };
    for (const [k, v] of Object.entries(local)) out[k] = mergeGlobals(global[k], v);
    return out;
  }
  return local;
}

/** The implicit HTTP API's logical id (SAM's). */
export const IMPLICIT_HTTP_API = "ServerlessHttpApi";
/** The implicit REST API's logical id (SAM's). */
export const IMPLICIT_REST_API = "ServerlessRestApi";

function strings(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : String(value).split(",");
  return list.map((v) => {
    if (typeof v !== "string" && typeof v !== "number") {
      throw new TemplateProblem(`${where}: must be a list of strings`);
    }
    return String(v).trim();
  }).filter((v) => v !== "");
}

/** A REST API's `Cors` value: strings are quoted for API Gateway (`"'*'"`); the quotes go. */
function unquote(v: unknown): string {
  return String(v).trim().replace(/^'(.*)'$/, "$1");
}

/** `CorsConfiguration` of an HTTP API (or a Function URL's `Cors`) as a `cors:` key. */
export function httpCors(value: unknown, where: string): CorsPlan | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return { allow_origins: ["*"] };
  if (!isMap(value)) throw new TemplateProblem(`${where}: must be true or a mapping`);
  const cors: CorsPlan = {};
  const o = value as Record<string, unknown>;
  if (o.AllowOrigins !== undefined) cors.allow_origins = strings(o.AllowOrigins, `${where}.AllowOrigins`);
  if (o.AllowMethods !== undefined) cors.allow_methods = strings(o.AllowMethods, `${where}.AllowMethods`);
  if (o.AllowHeaders !== undefined) cors.allow_headers = strings(o.AllowHeaders, `${where}.AllowHeaders`);
  if (o.ExposeHeaders !== undefined) cors.expose_headers = strings(o.ExposeHeaders, `${where}.ExposeHeaders`);
  if (o.MaxAge !== undefined) cors.max_age = Number(o.MaxAge);
  if (o.AllowCredentials !== undefined) cors.allow_credentials = o.AllowCredentials === true;
  return cors;
}

/** A REST API's `Cors` (a quoted origin string, or `AllowOrigin`, `AllowMethods`, … with quoted values). */
export function restCors(value: unknown, where: string): CorsPlan | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return { allow_origins: [unquote(value)] };
  if (!isMap(value)) {
    throw new TemplateProblem(`${where}: must be a quoted origin such as "'*'" or a mapping`);
  }
  const o = value as Record<string, unknown>;
  const cors: CorsPlan = {};
  if (o.AllowOrigin !== undefined) {
    cors.allow_origins = strings(unquote(o.AllowOrigin), `${where}.AllowOrigin`);
  }
  if (o.AllowMethods !== undefined) {
    cors.allow_methods = strings(unquote(o.AllowMethods), `${where}.AllowMethods`);
  }
  if (o.AllowHeaders !== undefined) {
    cors.allow_headers = strings(unquote(o.AllowHeaders), `${where}.AllowHeaders`);
  }
  if (o.MaxAge !== undefined) cors.max_age = Number(unquote(o.MaxAge));
  if (o.AllowCredentials !== undefined) cors.allow_credentials = o.AllowCredentials === true;
  return cors;
}

/** What an API's `Auth` and `Domain` declare, in words (none of it is enforced locally). */
export function apiNotEnforced(props: Record<string, unknown>, kind: "http" | "rest"): string[] {
  const out: string[] = [];
  const auth = isMap(props.Auth) ? props.Auth : undefined;
  if (auth) {
    const authorizers = isMap(auth.Authorizers) ? Object.entries(auth.Authorizers) : [];
    if (typeof auth.DefaultAuthorizer === "string" && auth.DefaultAuthorizer !== "NONE") {
      const found = authorizers.find(([name]) => name === auth.DefaultAuthorizer)?.[1];
      out.push(
        `authorizer ${auth.DefaultAuthorizer}${authorizerKind(found, kind)} (every request is let through)`,
      );
    }
    if (auth.ApiKeyRequired === true) {
      out.push("API keys (ApiKeyRequired: requests without one are let through)");
    }
    if (auth.UsagePlan !== undefined) out.push("usage plan (no throttling or quota)");
    if (auth.ResourcePolicy !== undefined) out.push("resource policy");
  }
  if (props.Domain !== undefined) out.push("custom domain (served on lrp's host and port)");
  if (props.DefinitionBody !== undefined || props.DefinitionUri !== undefined) {
    out.push("its OpenAPI definition (only the functions' events are routed)");
  }
  return out;
}

function authorizerKind(found: unknown, kind: "http" | "rest"): string {
  if (!isMap(found)) return "";
  if (found.JwtConfiguration !== undefined) return " (JWT)";
  if (found.FunctionArn !== undefined) return " (Lambda)";
  if (found.UserPoolArn !== undefined) return " (Cognito)";
  return kind === "http" ? "" : "";
}

/**
 * The APIs a template declares, with `Globals` merged, by logical id; the
 * implicit ones are added by {@linkcode implicitApi} when an event needs them.
 */
export function declaredApis(
  resources: Record<string, Record<string, unknown>>,
  globals: Record<string, unknown>,
  resolve: Resolver,
): Record<string, ApiPlan> {
  const apis: Record<string, ApiPlan> = {};
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === "AWS::Serverless::HttpApi") {
      apis[id] = httpApi(
        id,
        mergeGlobals(globals.HttpApi, resource.Properties ?? {}),
        `Resources.${id}`,
        resolve,
      );
    } else if (resource.Type === "AWS::Serverless::Api") {
      apis[id] = restApi(
        id,
        mergeGlobals(globals.Api, resource.Properties ?? {}),
        `Resources.${id}`,
        resolve,
      );
    }
  }
  return apis;
}

/** SAM's implicit API of `kind`, with that kind's `Globals`. */
export function implicitApi(
  kind: "http" | "rest",
  globals: Record<string, unknown>,
  resolve: Resolver,
): ApiPlan {
  return kind === "http"
    ? httpApi(IMPLICIT_HTTP_API, globals.HttpApi ?? {}, "Globals.HttpApi", resolve)
    : restApi(
      IMPLICIT_REST_API,
      { StageName: "Prod", ...(globals.Api as object ?? {}) },
      "Globals.Api",
      resolve,
    );
}

function stageVariables(value: unknown, where: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isMap(value)) throw new TemplateProblem(`${where}: must be a mapping`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

function httpApi(id: string, raw: unknown, where: string, resolve: Resolver): ApiPlan {
  const props = (raw ?? {}) as Record<string, unknown>;
  const at = (k: string) => `${where}.Properties.${k}`;
  const stage = props.StageName === undefined
    ? "$default"
    : String(resolve(props.StageName, at("StageName")));
  const cors = httpCors(resolve(props.CorsConfiguration, at("CorsConfiguration")), at("CorsConfiguration"));
  return {
    id,
    kind: "http",
    stage,
    stageVariables: stageVariables(resolve(props.StageVariables, at("StageVariables")), at("StageVariables")),
    ...(cors && { cors }),
    notEnforced: apiNotEnforced(props, "http"),
  };
}

function restApi(id: string, raw: unknown, where: string, resolve: Resolver): ApiPlan {
  const props = (raw ?? {}) as Record<string, unknown>;
  const at = (k: string) => `${where}.Properties.${k}`;
  if (props.StageName === undefined) {
    throw new TemplateProblem(`${at("StageName")}: required for an AWS::Serverless::Api`);
  }
  const cors = restCors(resolve(props.Cors, at("Cors")), at("Cors"));
  return {
    id,
    kind: "rest",
    stage: String(resolve(props.StageName, at("StageName"))),
    stageVariables: stageVariables(resolve(props.Variables, at("Variables")), at("Variables")),
    ...(cors && { cors }),
    notEnforced: apiNotEnforced(props, "rest"),
  };
}
