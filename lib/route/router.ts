/**
 * Host → target routing. Pure: the router maps a normalised host name to
 * whatever target the caller built for each rule, and to nothing else — a
 * request can only reach a target the configuration names.
 *
 * Exact host names win; then host patterns (`{alias}.example.com`, see
 * `pattern.ts`), the most specific first (most literal characters, then
 * most literal labels, then configuration order); `*` last.
 *
 * @module
 */

import type { Rule } from "./rule.ts";
import { HostApis } from "./api_host.ts";
import { compileHostPattern, type HostPattern, isHostPattern, matchHostPattern } from "./pattern.ts";

/** A rule with the target built for it. */
export interface Route<T> {
  rule: Rule;
  target: T;
}

/** A route matched for one host, with what its host pattern captured. */
export interface RouteMatch<T> extends Route<T> {
  /** Placeholder values (`{alias}` → `params.alias`); empty for exact names. */
  params: Record<string, string>;
  /**
   * The host's API Gateway routes, when its rules have `routes:`: the route
   * (and so the rule) is then chosen by method and path; `rule` and
   * `target` are the host's first rule's.
   */
  apis?: HostApis<Route<T>> | undefined;
}

/** The first rule of a host, and the routes of all its rules when they have `routes:`. */
type HostEntry<T> = Route<T> & { apis?: HostApis<Route<T>> };

/** Finds the route for a normalised host name. */
export interface Router<T> {
  /** The route answering for `host` (already normalised), or `undefined`. */
  match(host: string): RouteMatch<T> | undefined;
  /** All routes, in configuration order. */
  readonly routes: readonly Route<T>[];
}

/**
 * Builds a router over exact host names (the configuration lower-cases
 * them and strips a trailing dot; {@linkcode normalizeHost} does the same to
 * the request's `Host`).
 */
export function createRouter<T>(rules: readonly Rule[], build: (rule: Rule) => T): Router<T> {
  const routes = rules.map((rule) => ({ rule, target: build(rule) }));
  const exact = new Map<string, HostEntry<T>>();
  const patterns: { pattern: HostPattern; route: HostEntry<T> }[] = [];
  // Rules with routes may share a host name (the configuration allows no other): one entry per host.
  const hosts = new Map<string, Route<T>[]>();
  for (const r of routes) {
    const same = hosts.get(r.rule.hostname);
    if (same) same.push(r);
    else hosts.set(r.rule.hostname, [r]);
  }
  for (const same of hosts.values()) {
    const first = same[0]!;
    const r: HostEntry<T> = first.rule.routes
      ? { ...first, apis: new HostApis(same.map((route) => ({ rule: route.rule, value: route }))) }
      : first;
    if (isHostPattern(r.rule.hostname)) {
      patterns.push({ pattern: compileHostPattern(r.rule.hostname), route: r });
    } else exact.set(r.rule.hostname, r);
  }
  // Stable sort keeps configuration order among equally specific patterns.
  patterns.sort((a, b) =>
    b.pattern.specificity[0] - a.pattern.specificity[0] ||
    b.pattern.specificity[1] - a.pattern.specificity[1]
  );
  return {
    routes,
    match: (host) => {
      const hit = exact.get(host);
      if (hit) return { ...hit, params: {} };
      if (host === "") return undefined;
      for (const { pattern, route } of patterns) {
        const params = matchHostPattern(pattern, host);
        if (params) return { ...route, params };
      }
      return undefined;
    },
  };
}
