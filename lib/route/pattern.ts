/**
 * Host patterns with `{placeholders}` and allow-list globs: the small
 * languages of lamux-style routing, kept pure and in one place so the
 * configuration, the router and the function selection agree.
 *
 * - A host pattern is a host name whose labels may hold `{name}`
 *   placeholders: `{alias}.example.com`, `{alias}-{function}.example.com`.
 *   A placeholder captures characters inside one DNS label (never a dot);
 *   when one label holds several, each but the last takes the shortest text
 *   that lets the rest match, so `{alias}-{function}` splits `prod-my-app`
 *   into `prod` and `my-app`. `*` alone matches every host.
 * - A template (`function_name`, `qualifier`) may use the placeholders its
 *   host pattern captured: `example:{alias}`.
 * - An allow glob matches a resolved `name[:qualifier]`: `*` is any run of
 *   characters except `:`, `?` one such character; everything else is literal.
 *
 * @module
 */

const PLACEHOLDER = /\{([a-z_][a-z0-9_]*)\}/g;
const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** A compiled host pattern. */
export interface HostPattern {
  /** The pattern as configured (lower-case). */
  source: string;
  /** Placeholder names, in order. */
  names: string[];
  /** Anchored matcher; groups are the placeholders. */
  regexp: RegExp;
  /**
   * Specificity, higher wins: literal characters, then literal labels.
   * `*` has `-1`.
   */
  specificity: [number, number];
}

/** Whether a host name holds placeholders (or is `*`), i.e. is a pattern. */
export function isHostPattern(hostname: string): boolean {
  return hostname === "*" || hostname.includes("{");
}

/**
 * Compiles a host pattern. Throws `TypeError` naming the mistake: a label
 * that is not a DNS label once placeholders are filled in, two adjacent
 * placeholders, or a placeholder name used twice.
 */
export function compileHostPattern(source: string): HostPattern {
  if (source === "*") return { source, names: [], regexp: /^.*$/s, specificity: [-1, -1] };
  const names: string[] = [];
  let literalChars = 0;
  let literalLabels = 0;
  const labels = source.split(".").map((label) => {
    if (/\}\{/.test(label)) {
      throw new TypeError(`Cannot use "${source}": two placeholders must be separated by a literal`);
    }
    const probe = label.replace(PLACEHOLDER, "a");
    if (!LABEL.test(probe) || /[{}]/.test(probe)) {
      throw new TypeError(`Cannot use "${source}": "${label}" is not a DNS label or {placeholder}`);
    }
    const parts = label.split(PLACEHOLDER);
    // split() with one group alternates literal, name, literal, …
    let re = "";
    const count = (parts.length - 1) / 2;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i % 2 === 0) {
        re += escapeRegExp(part);
        literalChars += part.length;
        continue;
      }
      if (names.includes(part)) throw new TypeError(`Cannot use "${source}": {${part}} appears twice`);
      names.push(part);
      const last = (i - 1) / 2 === count - 1;
      re += last ? "([a-z0-9_-]+)" : "([a-z0-9_-]+?)";
    }
    if (count === 0) literalLabels++;
    return re;
  });
  literalChars += labels.length - 1; // the dots
  return {
    source,
    names,
    regexp: new RegExp(`^${labels.join("\\.")}$`),
    specificity: [literalChars, literalLabels],
  };
}

/** Matches a normalised host against a pattern; returns the captures or `undefined`. */
export function matchHostPattern(pattern: HostPattern, host: string): Record<string, string> | undefined {
  const m = pattern.regexp.exec(host);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  pattern.names.forEach((name, i) => (params[name] = m[i + 1]!));
  return params;
}

/** Placeholder names a template uses (`example:{alias}` → `["alias"]`). */
export function templateNames(template: string): string[] {
  // Most templates are fixed names: no regex per request for them.
  if (!template.includes("{")) return [];
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}

/** Fills a template's placeholders from `params` (every name must be present). */
export function fillTemplate(template: string, params: Readonly<Record<string, string>>): string {
  if (!template.includes("{")) return template;
  return template.replace(PLACEHOLDER, (_, name: string) => params[name] ?? "");
}

const GLOB = /^[A-Za-z0-9_.:$*?-]+$/;

/** Whether `glob` is a valid allow glob. */
export function isAllowGlob(glob: string): boolean {
  return GLOB.test(glob);
}

/** Compiles an allow glob to an anchored `RegExp` (`*` never crosses a `:`). */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) {
    if (ch === "*") re += "[^:]*";
    else if (ch === "?") re += "[^:]";
    else re += escapeRegExp(ch);
  }
  return new RegExp(`^${re}$`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
