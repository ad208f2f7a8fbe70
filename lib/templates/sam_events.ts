/**
 * The `HttpApi` and `Api` events of a SAM function, read into routes: the
 * route key (`$default` when an HttpApi event has neither Path nor Method),
 * the API it belongs to (SAM's implicit ones are created on first use), its
 * payload format, and what its `Auth` declares that lrp does not enforce.
 * Pure.
 *
 * @module
 */

import type { ApiPlan, FunctionPlan, RoutePlan } from "./plan.ts";
import { TemplateProblem } from "./plan.ts";
import { implicitApi, type Resolver } from "./sam_apis.ts";
import { parseRouteKey } from "../route/route_key.ts";

/** What reading events needs: the resolver, the template's APIs (added to), its Globals, the warnings. */
export interface EventContext {
  resolver: Resolver;
  apis: Record<string, ApiPlan>;
  globals: Record<string, unknown>;
  warnings: string[];
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"]);

/** The routes of function `id`'s `Events`. */
export function readEvents(id: string, raw: unknown, ctx: EventContext): RoutePlan[] {
  const routes: RoutePlan[] = [];
  if (!isMap(raw)) return routes;
  for (const [name, event] of Object.entries(raw)) {
    const where = `Resources.${id}.Properties.Events.${name}`;
    if (!isMap(event)) throw new TemplateProblem(`${where}: must be a mapping with Type and Properties`);
    const type = event.Type;
    const props = isMap(event.Properties) ? event.Properties : {};
    const get = (k: string) => ctx.resolver(props[k], `${where}.Properties.${k}`);
    if (type !== "HttpApi" && type !== "Api") {
      ctx.warnings.push(
        `${where}: event type ${type} is not emulated (only HttpApi and Api events are served)`,
      );
      continue;
    }
    const kind = type === "HttpApi" ? "http" : "rest";
    const path = get("Path");
    const method = get("Method");
    let key: string;
    if (kind === "http" && path === undefined && method === undefined) key = "$default";
    else {
      if (path === undefined || method === undefined) {
        const missing = path === undefined ? "Path" : "Method";
        throw new TemplateProblem(
          `${where}.Properties.${missing}: missing` +
            (kind === "http"
              ? " (give both Path and Method, or neither for the $default route)"
              : " (required)"),
        );
      }
      const m = String(method).toUpperCase();
      const verb = m === "*" ? "ANY" : m;
      if (!METHODS.has(verb)) {
        throw new TemplateProblem(
          `${where}.Properties.Method: ${JSON.stringify(method)} is not an HTTP method`,
        );
      }
      if (typeof path !== "string" || !path.startsWith("/")) {
        throw new TemplateProblem(`${where}.Properties.Path: ${JSON.stringify(path)} must start with /`);
      }
      key = `${verb} ${path}`;
      const parsed = parseRouteKey(key);
      if (typeof parsed === "string") {
        throw new TemplateProblem(`${where}.Properties.Path: ${JSON.stringify(path)}: ${parsed}`);
      }
    }
    const apiKey = kind === "http" ? "ApiId" : "RestApiId";
    const apiRef = get(apiKey);
    const apiId = apiRef === undefined
      ? (kind === "http" ? "ServerlessHttpApi" : "ServerlessRestApi")
      : String(apiRef);
    if (apiRef === undefined) ctx.apis[apiId] ??= implicitApi(kind, ctx.globals, ctx.resolver);
    const api = ctx.apis[apiId];
    if (!api || api.kind !== kind) {
      throw new TemplateProblem(
        `${where}.Properties.${apiKey}: ${apiId} is not an AWS::Serverless::${
          kind === "http" ? "HttpApi" : "Api"
        } in this template`,
      );
    }
    const version = kind === "http" ? String(get("PayloadFormatVersion") ?? "2.0") : "1.0";
    if (version !== "2.0" && version !== "1.0") {
      throw new TemplateProblem(
        `${where}.Properties.PayloadFormatVersion: ${JSON.stringify(version)} must be "1.0" or "2.0"`,
      );
    }
    routes.push({ key, api: apiId, payloadFormat: version, notEnforced: eventNotEnforced(props.Auth) });
  }
  return routes;
}

function eventNotEnforced(auth: unknown): string[] {
  if (!isMap(auth)) return [];
  const out: string[] = [];
  if (typeof auth.Authorizer === "string" && auth.Authorizer !== "NONE") {
    out.push(`authorizer ${auth.Authorizer} (every request is let through)`);
  }
  if (auth.ApiKeyRequired === true) out.push("API key (requests without one are let through)");
  return out;
}

/** Two routes with the same key are one too many, whatever their functions or APIs: all APIs share lrp's host. */
export function checkDuplicates(functions: FunctionPlan[]): void {
  const seen = new Map<string, string>();
  for (const fn of functions) {
    if (fn.notServed) continue;
    for (const route of fn.routes) {
      const prev = seen.get(route.key);
      if (prev) {
        throw new TemplateProblem(
          `${fn.where}: route ${route.key} is also declared by ${prev}; a route key is served once`,
        );
      }
      seen.set(route.key, fn.where);
    }
  }
}
