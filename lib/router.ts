/**
 * Host → target routing. Pure: the router maps a normalised host name to
 * whatever target the caller built for each rule, and to nothing else — a
 * request can only reach a target the configuration names.
 *
 * @module
 */

import type { Rule } from "./config.ts";

/** A rule with the target built for it. */
export interface Route<T> {
  rule: Rule;
  target: T;
}

/** Finds the route for a normalised host name. */
export interface Router<T> {
  /** The route answering for `host` (already normalised), or `undefined`. */
  match(host: string): Route<T> | undefined;
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
  const exact = new Map<string, Route<T>>();
  for (const r of routes) exact.set(r.rule.hostname, r);
  return { routes, match: (host) => exact.get(host) };
}
