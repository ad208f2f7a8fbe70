/**
 * API Gateway route keys (`GET /pets/{id}`, `ANY /{proxy+}`, `$default`):
 * their grammar, parsed once at configuration time. Pure. The selection
 * among parsed keys lives in `route_table.ts`; the rules are in
 * docs/routes.md.
 *
 * @module
 */

/** Methods a route key may name; `ANY` stands for every method the same path does not name. */
export const ROUTE_METHODS = ["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

/** One segment of a route path. */
export type RouteSegment =
  | { kind: "static"; text: string }
  | { kind: "param"; name: string }
  | { kind: "greedy"; name: string };

/** A parsed route key. */
export interface RouteKey {
  /** The key as events carry it: the method upper-cased, e.g. `GET /pets/{id}`; or `$default`. */
  key: string;
  /** Upper-case method or `ANY`; `""` for `$default`. */
  method: string;
  /** The path template (`/pets/{id}`), `$default` for the default route. */
  path: string;
  /** The path's segments; empty for `/` and `$default`. */
  segments: RouteSegment[];
  /** The last segment is `{name+}`. */
  greedy: boolean;
  /** Whether this is the `$default` route. */
  isDefault: boolean;
  /**
   * The path with every variable written `{}` (greedy `{+}`): two keys with the
   * same method and shape cannot be told apart by a request.
   */
  shape: string;
}

const STATIC = /^[A-Za-z0-9._~:@!$&'()*,;=-]+$/;
const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses a route key. Returns the reason as a string when the key is
 * malformed: not `METHOD /path` or `$default`, an unknown method, a path
 * with an empty segment or a trailing `/`, a variable that is not a whole
 * segment, a greedy variable that is not last, a name used twice.
 */
export function parseRouteKey(text: string): RouteKey | string {
  if (text === "$default") {
    return {
      key: text,
      method: "",
      path: "$default",
      segments: [],
      greedy: false,
      isDefault: true,
      shape: "$default",
    };
  }
  const space = text.indexOf(" ");
  if (space === -1 || text.indexOf(" ", space + 1) !== -1) {
    return 'a route key is "METHOD /path" (one space) or "$default"';
  }
  const method = text.slice(0, space).toUpperCase();
  const path = text.slice(space + 1);
  if (!(ROUTE_METHODS as readonly string[]).includes(method)) {
    return `${JSON.stringify(text.slice(0, space))} is not a method (known: ${ROUTE_METHODS.join(", ")})`;
  }
  if (!path.startsWith("/")) return "the path must start with /";
  if (path !== "/" && path.endsWith("/")) return "the path must not end with / (API Gateway refuses it)";
  const segments: RouteSegment[] = [];
  const names = new Set<string>();
  const parts = path === "/" ? [] : path.slice(1).split("/");
  for (const [i, part] of parts.entries()) {
    if (part === "") return "the path has an empty segment (//)";
    if (part.startsWith("{") && part.endsWith("}")) {
      const greedy = part.endsWith("+}");
      const name = part.slice(1, greedy ? -2 : -1);
      if (!NAME.test(name)) return `${part} is not a path variable such as {id} or {proxy+}`;
      if (names.has(name)) return `the path variable {${name}} is used twice`;
      if (greedy && i !== parts.length - 1) return `the greedy variable ${part} must be the last segment`;
      names.add(name);
      segments.push(greedy ? { kind: "greedy", name } : { kind: "param", name });
    } else if (part.includes("{") || part.includes("}")) {
      return `${JSON.stringify(part)}: a path variable must be a whole segment, such as /{id}`;
    } else if (!STATIC.test(part)) {
      return `${JSON.stringify(part)} holds characters a route path cannot`;
    } else segments.push({ kind: "static", text: part });
  }
  const greedy = segments.at(-1)?.kind === "greedy";
  const shape = "/" + segments.map((s) => s.kind === "static" ? s.text : s.kind === "param" ? "{}" : "{+}")
    .join("/");
  return { key: `${method} ${path}`, method, path, segments, greedy, isDefault: false, shape };
}
