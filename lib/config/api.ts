/**
 * The API Gateway keys of a rule (`routes`, `api`, `api_id`, `stage`,
 * `stage_variables`, `stage_in_path`, `cors`) and the checks across the
 * rules of one host: one API agrees on its settings, a route key is defined
 * once, one `$default` per host (docs/routes.md). Each mistake is one
 * {@linkcode ConfigError} naming file, line and key path.
 *
 * @module
 */

import type { ApiOptions, CorsOptions, GatewayFields, Rule } from "../route/rule.ts";
import { parseRouteKey, type RouteKey } from "../route/route_key.ts";
import type { PayloadFormat } from "../wire/formats.ts";
import { convert } from "./convert.ts";
import type { Loc } from "./rules.ts";
import { ConfigError } from "./types.ts";

/** The keys every kind of rule takes for routes and CORS. */
export const GATEWAY_KEYS = ["routes", "api", "api_id", "stage", "stage_variables", "stage_in_path", "cors"];

const CORS_KEYS = [
  "allow_origins",
  "allow_methods",
  "allow_headers",
  "expose_headers",
  "max_age",
  "allow_credentials",
];
const STAGE = /^[A-Za-z0-9_-]{1,128}$/;
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/;

const given = (v: unknown) => v !== undefined && v !== null;

/**
 * Validates the gateway keys of rule `r` whose payload format `formatOf`
 * read as `payloadFormat`; returns the fields and the payload format the API
 * implies (a REST API speaks 1.0).
 */
export function gatewayOf(
  r: Record<string, unknown>,
  path: (string | number)[],
  loc: Loc,
  payloadFormat: PayloadFormat,
): GatewayFields & { payloadFormat: PayloadFormat } {
  const at = (...keys: (string | number)[]) => loc([...path, ...keys]);
  const out: GatewayFields & { payloadFormat: PayloadFormat } = { payloadFormat };
  if (given(r.cors)) out.cors = corsOf(r.cors, at);
  if (!given(r.routes)) {
    for (const k of ["api", "api_id", "stage", "stage_variables", "stage_in_path"]) {
      if (given(r[k])) throw new ConfigError(`${at(k)}: only applies to a rule with routes`);
    }
    return out;
  }
  if (!Array.isArray(r.routes) || r.routes.length === 0) {
    throw new ConfigError(`${at("routes")}: must be a non-empty list of route keys such as "GET /pets/{id}"`);
  }
  const kind = given(r.api) ? r.api : "http";
  if (kind !== "http" && kind !== "rest") {
    throw new ConfigError(`${at("api")}: ${JSON.stringify(r.api)} must be "http" or "rest"`);
  }
  if (kind === "rest") {
    if (given(r.payload_format) && payloadFormat !== "1.0") {
      throw new ConfigError(`${at("payload_format")}: a REST API (api: rest) speaks payload format "1.0"`);
    }
    if (r.invoke_mode === "RESPONSE_STREAM") {
      throw new ConfigError(
        `${at("invoke_mode")}: RESPONSE_STREAM needs payload format "2.0", not a REST API`,
      );
    }
    out.payloadFormat = "1.0";
  } else if (payloadFormat === "alb") {
    throw new ConfigError(`${at("payload_format")}: an HTTP API speaks payload format "2.0" or "1.0"`);
  }
  const routes: RouteKey[] = [];
  for (const [i, text] of r.routes.entries()) {
    const key = typeof text === "string" ? parseRouteKey(text) : "a route key must be a string";
    if (typeof key === "string") {
      throw new ConfigError(`${at("routes", i)}: ${JSON.stringify(text)} is not a route key: ${key}`);
    }
    if (key.isDefault && kind === "rest") {
      throw new ConfigError(`${at("routes", i)}: a REST API has no $default route`);
    }
    routes.push(key);
  }
  const stage = given(r.stage) ? r.stage : kind === "http" ? "$default" : "Prod";
  if (typeof stage !== "string" || !(STAGE.test(stage) || (stage === "$default" && kind === "http"))) {
    throw new ConfigError(
      `${at("stage")}: ${JSON.stringify(r.stage)} is not a stage name (letters, digits, - _${
        kind === "http" ? ", or $default" : ""
      })`,
    );
  }
  const api: ApiOptions = {
    kind,
    id: given(r.api_id) ? convert("string", r.api_id, at("api_id")) : "",
    stage,
    stageInPath: given(r.stage_in_path) ? convert("boolean", r.stage_in_path, at("stage_in_path")) : true,
  };
  if (given(r.stage_variables)) {
    const vars = r.stage_variables;
    if (typeof vars !== "object" || Array.isArray(vars)) {
      throw new ConfigError(`${at("stage_variables")}: must be a mapping of names to values`);
    }
    const map: Record<string, string> = {};
    for (const [k, v] of Object.entries(vars as Record<string, unknown>)) {
      if (!/^[A-Za-z0-9_]+$/.test(k)) {
        throw new ConfigError(
          `${at("stage_variables", k)}: a stage variable name holds letters, digits and _`,
        );
      }
      if (v === null || typeof v === "object") {
        throw new ConfigError(`${at("stage_variables", k)}: must be a string, number or boolean`);
      }
      map[k] = String(v);
    }
    if (Object.keys(map).length > 0) api.stageVariables = map;
  }
  out.routes = routes;
  out.api = api;
  return out;
}

function corsOf(value: unknown, at: (...keys: (string | number)[]) => string): CorsOptions {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(`${at("cors")}: must be a mapping (keys: ${CORS_KEYS.join(", ")})`);
  }
  const c = value as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!CORS_KEYS.includes(k)) {
      throw new ConfigError(`${at("cors", k)}: unknown key (known: ${CORS_KEYS.join(", ")})`);
    }
  }
  const list = (key: string, valid: (s: string) => boolean, what: string): string[] => {
    const v = c[key];
    if (!given(v)) return [];
    const items = typeof v === "string" ? [v] : v;
    if (!Array.isArray(items)) throw new ConfigError(`${at("cors", key)}: must be a list of ${what}`);
    return items.map((item, i) => {
      if (typeof item !== "string" || !valid(item.trim())) {
        throw new ConfigError(`${at("cors", key, i)}: ${JSON.stringify(item)} is not ${what}`);
      }
      return item.trim();
    });
  };
  const cors: CorsOptions = {
    allowOrigins: list(
      "allow_origins",
      (s) => s === "*" || ORIGIN.test(s),
      'an origin such as "https://example.com", "https://*" or "*"',
    ),
    allowMethods: list("allow_methods", (s) => TOKEN.test(s), "a method or *").map((m) => m.toUpperCase()),
    allowHeaders: list("allow_headers", (s) => TOKEN.test(s), "a header name or *").map((h) =>
      h.toLowerCase()
    ),
    exposeHeaders: list("expose_headers", (s) => TOKEN.test(s), "a header name or *").map((h) =>
      h.toLowerCase()
    ),
    allowCredentials: given(c.allow_credentials)
      ? convert("boolean", c.allow_credentials, at("cors", "allow_credentials"))
      : false,
  };
  if (given(c.max_age)) {
    const n = typeof c.max_age === "string" ? Number(c.max_age) : c.max_age;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 86_400) {
      throw new ConfigError(
        `${at("cors", "max_age")}: ${JSON.stringify(c.max_age)} must be 0 to 86400 (seconds)`,
      );
    }
    cors.maxAge = n;
  }
  if (cors.allowCredentials && cors.allowOrigins.includes("*")) {
    throw new ConfigError(
      `${at("cors", "allow_credentials")}: cannot be true while allow_origins holds "*" (browsers refuse it)`,
    );
  }
  return cors;
}

/** A rule with the place it came from, for messages naming both rules of a conflict. */
export interface PlacedRule {
  rule: Rule;
  /** `local[0]`, `functions[2]`. */
  name: string;
  path: (string | number)[];
}

/**
 * Checks the rules that share a host name: only rules with routes may, the
 * rules of one API (host and `api_id`) agree on its settings and CORS, a
 * route (method and path shape) is defined once per host, and there is one
 * `$default` route per host.
 */
export function checkHosts(rules: readonly PlacedRule[], loc: Loc): void {
  const byHost = new Map<string, PlacedRule[]>();
  for (const p of rules) {
    const same = byHost.get(p.rule.hostname);
    if (same) same.push(p);
    else byHost.set(p.rule.hostname, [p]);
  }
  for (const [host, same] of byHost) {
    const where = (p: PlacedRule) => `${p.name} (line ${p.rule.line})`;
    if (same.length > 1) {
      const plain = same.find((p) => !p.rule.routes)!;
      if (plain) {
        const other = same.find((p) => p !== plain)!;
        throw new ConfigError(
          `${loc([...plain.path, "hostname"])}: duplicate hostname "${host}" (also ${where(other)}); ` +
            `rules may share a host only when each has routes`,
        );
      }
    }
    const apis = new Map<string, PlacedRule>();
    const keys = new Map<string, { p: PlacedRule; key: RouteKey }>();
    for (const p of same) {
      if (!p.rule.api) continue;
      const first = apis.get(p.rule.api.id);
      if (!first) apis.set(p.rule.api.id, p);
      else {
        for (
          const [what, a, b] of [
            ["api", first.rule.api!.kind, p.rule.api.kind],
            ["stage", first.rule.api!.stage, p.rule.api.stage],
            ["stage_in_path", first.rule.api!.stageInPath, p.rule.api.stageInPath],
            ["stage_variables", first.rule.api!.stageVariables, p.rule.api.stageVariables],
            ["cors", first.rule.cors, p.rule.cors],
          ] as const
        ) {
          if (JSON.stringify(a) !== JSON.stringify(b)) {
            throw new ConfigError(
              `${loc([...p.path, what])}: ${p.name} and ${where(first)} form one API on "${host}"${
                p.rule.api.id ? ` (api_id ${p.rule.api.id})` : ""
              } and must agree on ${what}`,
            );
          }
        }
      }
      for (const [i, key] of (p.rule.routes ?? []).entries()) {
        const id = key.isDefault ? "$default" : `${key.method} ${key.shape}`;
        const prev = keys.get(id);
        if (prev) {
          const what = key.isDefault
            ? "a second $default route (one per host)"
            : key.key === prev.key.key
            ? `route "${key.key}" is defined twice`
            : `route "${key.key}" matches the same requests as "${prev.key.key}"`;
          throw new ConfigError(
            `${loc([...p.path, "routes", i])}: ${what}: ${p.name} and ${where(prev.p)} on "${host}"`,
          );
        }
        keys.set(id, { p, key });
      }
    }
  }
}
