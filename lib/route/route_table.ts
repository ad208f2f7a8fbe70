/**
 * Route selection among parsed route keys, as API Gateway documents it
 * (docs/routes.md, "How a route is chosen"). Pure.
 *
 * The keys are compiled into a tree of path segments. A request's segments
 * are looked up in three tiers, each finished before the next:
 * 1. a full match of path and method without a greedy variable;
 * 2. a match through a greedy `{name+}` variable;
 * 3. the `$default` route.
 * Within a tier, segments are compared left to right and a static segment
 * beats a `{variable}`, which beats a greedy variable ending there (a
 * depth-first walk that tries static children first). On one path, an
 * explicit method beats `ANY`, which takes only the methods the path does
 * not name. {@linkcode rankOf} states the same order as a comparable value;
 * the property test checks the tree against it.
 *
 * @module
 */

import type { RouteKey } from "./route_key.ts";

/** A route of a table: its parsed key and whatever the caller attaches. */
export interface TableRoute<T> {
  key: RouteKey;
  value: T;
}

/** A selected route with its path parameters. */
export interface TableMatch<T> {
  route: TableRoute<T>;
  /** Variables by name; `undefined` when the route has none. */
  params: Record<string, string> | undefined;
}

interface Node<T> {
  statics: Map<string, Node<T>>;
  param: Node<T> | undefined;
  /** Routes whose path ends at this node, by method (`ANY` included). */
  methods: Map<string, TableRoute<T>> | undefined;
  /** Routes ending in a greedy variable right below this node, by method. */
  greedy: Map<string, TableRoute<T>> | undefined;
}

function node<T>(): Node<T> {
  return { statics: new Map(), param: undefined, methods: undefined, greedy: undefined };
}

/** The route of one path for `method` (`null`: any method): the explicit one, else `ANY`. */
function pick<T>(methods: Map<string, TableRoute<T>> | undefined, method: string | null) {
  if (methods === undefined) return undefined;
  if (method === null) return methods.values().next().value;
  return methods.get(method) ?? methods.get("ANY");
}

/**
 * Splits a request path into the segments routes are matched against. One
 * trailing `/` is ignored (`/hello/` is routed like `/hello`); `/` has none.
 */
export function pathSegments(path: string): string[] {
  const end = path.length > 1 && path.endsWith("/") ? path.length - 1 : path.length;
  return end <= 1 ? [] : path.slice(1, end).split("/");
}

/** A compiled set of routes. Keys must be distinct by method and shape (the configuration checks it). */
export class RouteTable<T> {
  #root: Node<T> = node();
  #default: TableRoute<T> | undefined;

  /** Compiles `routes`; a later route with the method and shape of an earlier one is ignored. */
  constructor(routes: readonly TableRoute<T>[]) {
    for (const r of routes) {
      if (r.key.isDefault) {
        this.#default ??= r;
        continue;
      }
      let at = this.#root;
      for (const s of r.key.segments) {
        if (s.kind === "static") {
          let next = at.statics.get(s.text);
          if (!next) at.statics.set(s.text, next = node());
          at = next;
        } else if (s.kind === "param") at = at.param ??= node();
      }
      const slot = r.key.greedy ? (at.greedy ??= new Map()) : (at.methods ??= new Map());
      if (!slot.has(r.key.method)) slot.set(r.key.method, r);
    }
  }

  /** The `$default` route, if any. */
  get defaultRoute(): TableRoute<T> | undefined {
    return this.#default;
  }

  /**
   * Selects the route for `method` (`null` matches any method, for
   * preflights) and the request's `segments` ({@linkcode pathSegments}).
   * `withDefault: false` leaves out the `$default` route.
   */
  select(method: string | null, segments: readonly string[], withDefault = true): TableMatch<T> | undefined {
    const found = full(this.#root, segments, 0, method) ?? greedy(this.#root, segments, 0, method) ??
      (withDefault ? this.#default : undefined);
    return found && { route: found, params: paramsOf(found.key, segments) };
  }
}

function full<T>(
  at: Node<T>,
  segs: readonly string[],
  i: number,
  method: string | null,
): TableRoute<T> | undefined {
  if (i === segs.length) return pick(at.methods, method);
  const s = segs[i]!;
  if (s === "") return undefined;
  const st = at.statics.get(s);
  if (st) {
    const r = full(st, segs, i + 1, method);
    if (r) return r;
  }
  return at.param && full(at.param, segs, i + 1, method);
}

function greedy<T>(
  at: Node<T>,
  segs: readonly string[],
  i: number,
  method: string | null,
): TableRoute<T> | undefined {
  if (i >= segs.length) return undefined;
  const s = segs[i]!;
  // An empty segment (`//`) starts no variable: a greedy value is never empty and never starts with `/`.
  if (s === "") return undefined;
  const st = at.statics.get(s);
  if (st) {
    const r = greedy(st, segs, i + 1, method);
    if (r) return r;
  }
  if (at.param) {
    const r = greedy(at.param, segs, i + 1, method);
    if (r) return r;
  }
  return pick(at.greedy, method);
}

/** The variables of `key` filled from the request's segments (a greedy one takes the rest, joined by `/`). */
export function paramsOf(key: RouteKey, segs: readonly string[]): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [i, s] of key.segments.entries()) {
    if (s.kind === "param") (out ??= {})[s.name] = segs[i]!;
    else if (s.kind === "greedy") (out ??= {})[s.name] = segs.slice(i).join("/");
  }
  return out;
}

/**
 * The documented priority as a comparable value (smaller wins): the tier,
 * then per segment static 0, variable 1, greedy 2, then explicit method 0
 * over `ANY` 1. Two routes that a request matches are ordered by it.
 */
export function rankOf(key: RouteKey): number[] {
  const tier = key.isDefault ? 3 : key.greedy ? 2 : 1;
  const segs = key.segments.map((s) => s.kind === "static" ? 0 : s.kind === "param" ? 1 : 2);
  return [tier, ...segs, key.method === "ANY" ? 1 : 0];
}

/** Compares two ranks ({@linkcode rankOf}) lexicographically, a shorter prefix first. */
export function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
