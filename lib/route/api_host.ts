/**
 * The APIs served on one host: the routes of every rule of that host with
 * `routes:`, their stages, and the one selection a request gets
 * (docs/routes.md). Pure.
 *
 * The stage is found first: a request under a named stage's path prefix
 * (`/prod/...`) is matched against that stage's routes only; any other
 * request against the routes of APIs without a prefix (`$default` stage, or
 * `stage_in_path: false`). Then the routes of those APIs are matched as one
 * table by the documented priority ({@linkcode RouteTable}): HTTP API routes
 * against the percent-decoded path, REST API routes against the path as
 * sent.
 *
 * @module
 */

import type { ApiOptions, CorsOptions, Rule } from "./rule.ts";
import type { RouteKey } from "./route_key.ts";
import { compareRanks, pathSegments, rankOf, RouteTable, type TableMatch } from "./route_table.ts";

/** One route of a host: its key, its API and CORS, and the caller's value (rule and target). */
export interface HostRoute<T> {
  key: RouteKey;
  api: ApiOptions;
  cors: CorsOptions | undefined;
  value: T;
}

/** The route chosen for a request, with what its event needs. */
export interface RouteChoice<T> {
  route: HostRoute<T>;
  /** Variables: decoded for an HTTP API, as sent for a REST API; `undefined` when none. */
  pathParameters: Record<string, string> | undefined;
  /** The path below the stage prefix, as sent (REST `path`). */
  path: string;
  /**
   * The path with the stage, as the event's `rawPath` (HTTP API: decoded) or
   * REST `requestContext.path` (as sent) carries it.
   */
  stagePath: string;
}

/** Why no route was chosen, and which gateway answers. */
export interface NoRoute {
  route: undefined;
  /** `http`: 404 Not Found; `rest`: 403 Missing Authentication Token. */
  answer: "http" | "rest";
  /** The path could not be percent-decoded (an HTTP API answers 400). */
  badPath?: boolean;
  why: string;
}

interface StageGroup<T> {
  /** `/prod` for a named stage in the URL; `""` otherwise. */
  prefix: string;
  http: RouteTable<HostRoute<T>> | undefined;
  rest: RouteTable<HostRoute<T>> | undefined;
}

/**
 * Decodes a path as an HTTP API does before routing: percent-decoded,
 * a second time if a `%` remains (`%252F` → `/`), cut at a decoded `?`.
 * Returns `undefined` when a decoding fails (`%25` alone: AWS answers 400).
 */
export function decodeHttpApiPath(path: string): string | undefined {
  if (path.indexOf("%") === -1) return path;
  let out: string;
  try {
    out = decodeURIComponent(path);
    if (out.indexOf("%") !== -1) out = decodeURIComponent(out);
  } catch {
    return undefined;
  }
  const q = out.indexOf("?");
  return q === -1 ? out : out.slice(0, q) || "/";
}

/** The routed APIs of one host. */
export class HostApis<T> {
  /** Every route, in the order of the rules and their `routes:` lists. */
  readonly routes: readonly HostRoute<T>[];
  /** The host's APIs, in file order. */
  readonly apis: readonly { api: ApiOptions; cors: CorsOptions | undefined }[];
  /** `http` when any API of the host is an HTTP API. */
  readonly answer: "http" | "rest";
  #groups: StageGroup<T>[] = [];

  /** Builds the host's tables from its rules with routes and the value built for each. */
  constructor(rules: readonly { rule: Rule; value: T }[]) {
    const routes: HostRoute<T>[] = [];
    const apis: { api: ApiOptions; cors: CorsOptions | undefined }[] = [];
    for (const { rule, value } of rules) {
      const api = rule.api!;
      if (!apis.some((a) => a.api.id === api.id)) apis.push({ api, cors: rule.cors });
      for (const key of rule.routes ?? []) routes.push({ key, api, cors: rule.cors, value });
    }
    this.routes = routes;
    this.apis = apis;
    this.answer = apis.some((a) => a.api.kind === "http") ? "http" : "rest";
    const prefixes = [...new Set(apis.map((a) => prefixOf(a.api)))];
    for (const prefix of prefixes.sort((a, b) => b.length - a.length)) {
      const mine = routes.filter((r) => prefixOf(r.api) === prefix);
      const table = (kind: string) => {
        const some = mine.filter((r) => r.api.kind === kind);
        return some.length ? new RouteTable(some.map((r) => ({ key: r.key, value: r }))) : undefined;
      };
      this.#groups.push({ prefix, http: table("http"), rest: table("rest") });
    }
  }

  /**
   * Selects the route of a request: `method` (`null`: any, for a preflight)
   * and `rawPath`, the path exactly as sent.
   */
  select(method: string | null, rawPath: string): RouteChoice<T> | NoRoute {
    let group: StageGroup<T> | undefined;
    let path = rawPath;
    for (const g of this.#groups) {
      if (g.prefix === "") group = g;
      else if (rawPath === g.prefix || rawPath.startsWith(g.prefix + "/")) {
        group = g;
        path = rawPath.slice(g.prefix.length) || "/";
        break;
      }
    }
    if (!group) {
      return { route: undefined, answer: this.answer, why: `no stage of this host serves ${rawPath}` };
    }
    let best: TableMatch<HostRoute<T>> | undefined;
    let decoded: string | undefined;
    if (group.http) {
      decoded = decodeHttpApiPath(path);
      if (decoded === undefined) {
        return {
          route: undefined,
          answer: "http",
          badPath: true,
          why: `the path ${rawPath} cannot be decoded`,
        };
      }
      best = group.http.select(method, pathSegments(decoded));
    }
    if (group.rest) {
      const other = group.rest.select(method, pathSegments(path));
      if (other && (!best || compareRanks(rankOf(other.route.key), rankOf(best.route.key)) < 0)) best = other;
    }
    if (!best) {
      return {
        route: undefined,
        answer: this.answer,
        why: `no route of this host matches ${method ?? "a request to"} ${rawPath}`,
      };
    }
    const route = best.route.value;
    const api = route.api;
    const named = api.stage !== "$default";
    const shown = api.kind === "http" ? decoded! : path;
    // The stage is in the events' stage path even when the URL does not carry it.
    const stagePath = !named
      ? shown
      : api.stageInPath
      ? (api.kind === "http" ? decodeHttpApiPath(rawPath)! : rawPath)
      : `/${api.stage}${shown === "/" ? "" : shown}`;
    return { route, pathParameters: best.params, path, stagePath };
  }

  /**
   * The CORS of a preflight to `rawPath`: that of the API of the route the
   * path selects (any method); when no route matches, that of the host's
   * first API with CORS. `undefined`: the preflight is routed as a request.
   */
  corsFor(rawPath: string): CorsOptions | undefined {
    const choice = this.select(null, rawPath);
    if (choice.route) return choice.route.cors;
    return this.apis.find((a) => a.cors)?.cors;
  }
}

function prefixOf(api: ApiOptions): string {
  return api.stage !== "$default" && api.stageInPath ? `/${api.stage}` : "";
}
