/**
 * The Serverless Framework's variables, resolved as far as they can be
 * without AWS: `${self:a.b}`, `${env:NAME, default}`, `${opt:stage, 'dev'}`,
 * `${sls:stage}`, `${aws:region}`, `${file(./x.json):key}`, `${strToBool(…)}`,
 * nested (`${file(./config.${sls:stage}.json):KEY}`) and with fallbacks.
 * Sources that need AWS or the Dashboard (`ssm`, `cf`, `s3`, `param`,
 * `aws:accountId`, …) throw {@linkcode VariableProblem} naming the variable,
 * unless a fallback follows them. Pure: files come through a callback.
 *
 * @module
 */

/** A variable that cannot be resolved; the message names it. */
export class VariableProblem extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "VariableProblem";
  }
}

/** The budget's exhaustion: a file whose variables repeat each other grows exponentially. */
export class TooManyValues extends Error {
  /** Creates the error. */
  constructor() {
    super(
      `the variables expand to more than ${MAX_VALUES} values and characters (variables repeated inside each other?)`,
    );
    this.name = "TooManyValues";
  }
}

/**
 * What the variables of one file may produce, in values visited plus
 * characters spliced into strings: `l1: [\${self:l0}, \${self:l0}, …]` ten
 * levels deep is 10^9 values from a few hundred bytes.
 */
const MAX_VALUES = 10_000_000;
const spent = new WeakMap<VariableScope, number>();

function spend(scope: VariableScope, n: number): void {
  const total = (spent.get(scope) ?? 0) + n;
  if (total > MAX_VALUES) throw new TooManyValues();
  spent.set(scope, total);
}

/** What variables resolve against. */
export interface VariableScope {
  /** The whole parsed file (`self:`). */
  self: unknown;
  env: Record<string, string | undefined>;
  /** CLI options (`opt:`): `stage`, `region`. */
  options: Record<string, string | undefined>;
  /** `sls:stage`. */
  stage: string;
  /** `aws:region`. */
  region: string;
  /**
   * Reads and parses a file relative to the service folder (`file(…)`);
   * `undefined` when missing; throws {@linkcode VariableProblem} for one it will not read.
   */
  readFile(path: string): unknown;
}

/** Sources that need credentials, AWS APIs or the Serverless Dashboard. */
const REMOTE = new Set(["ssm", "cf", "s3", "param", "secretsmanager", "sls:instanceId"]);

const VARIABLE = /\$\{([^${}]*)\}/;

/**
 * `value` with every variable resolved (maps and lists walked). Throws
 * {@linkcode VariableProblem}, or {@linkcode TooManyValues} when the
 * variables of `scope` have produced more than ten million values and
 * characters.
 */
export function resolveVariables(value: unknown, scope: VariableScope, depth = 0): unknown {
  spend(scope, 1);
  if (depth > 20) throw new VariableProblem("variables nest more than 20 deep (a self-reference?)");
  if (Array.isArray(value)) return value.map((v) => resolveVariables(v, scope, depth));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVariables(v, scope, depth)]));
  }
  if (typeof value !== "string") return value;
  let text = value;
  // Innermost first: a variable holding no other variable is resolved and put back in place.
  for (let m; (m = VARIABLE.exec(text));) {
    const resolved = variable(m[1]!, scope, depth);
    if (m[0] === text) return resolved;
    if (resolved !== null && typeof resolved === "object") {
      throw new VariableProblem(
        `\${${m[1]}} is a map or list and cannot be part of the string ${JSON.stringify(value)}`,
      );
    }
    const piece = String(resolved);
    spend(scope, piece.length);
    text = text.slice(0, m.index) + piece + text.slice(m.index + m[0].length);
  }
  return text;
}

/** Splits `a, b('x, y'), 'c'` at the commas outside quotes and parentheses. */
function candidates(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(body.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(body.slice(start).trim());
  return out;
}

/** One `${…}` body: the first candidate with a value wins. */
function variable(body: string, scope: VariableScope, depth: number): unknown {
  const list = candidates(body);
  let remote: string | undefined;
  for (const candidate of list) {
    const value = source(candidate, scope, depth);
    if (value === REMOTE_SOURCE) {
      remote ??= candidate;
      continue;
    }
    if (value !== undefined && value !== null) return value;
  }
  if (remote) {
    throw new VariableProblem(
      `\${${body}}: ${remote} needs AWS or the Serverless Dashboard, which lrp does not call; ` +
        `give the variable a fallback (\${${remote}, 'local value'}) or set the key locally`,
    );
  }
  throw new VariableProblem(`\${${body}} has no value${list.length > 1 ? " and no fallback applies" : ""}`);
}

const REMOTE_SOURCE = Symbol("remote");

function source(candidate: string, scope: VariableScope, depth: number): unknown {
  const quoted = /^'(.*)'$|^"(.*)"$/.exec(candidate);
  if (quoted) return quoted[1] ?? quoted[2];
  if (/^-?\d+(\.\d+)?$/.test(candidate)) return Number(candidate);
  if (candidate === "true" || candidate === "false") return candidate === "true";
  const file = /^file\((.+?)\)(?::(.*))?$/.exec(candidate);
  if (file) {
    const path = file[1]!.trim().replace(/^'(.*)'$|^"(.*)"$/, "$1$2");
    let data: unknown;
    try {
      data = scope.readFile(path);
    } catch (err) {
      if (err instanceof VariableProblem) throw new VariableProblem(`\${${candidate}}: ${err.message}`);
      throw err;
    }
    if (data === undefined) throw new VariableProblem(`\${${candidate}}: no such file ${path}`);
    const found = file[2] === undefined ? data : lookup(data, file[2], scope, depth);
    return found === undefined ? undefined : resolveVariables(found, scope, depth + 1);
  }
  const bool = /^strToBool\((.*)\)$/.exec(candidate);
  if (bool) return bool[1]!.trim().replace(/^'(.*)'$/, "$1") === "true";
  const colon = candidate.indexOf(":");
  if (colon === -1) return candidate === "" ? undefined : candidate;
  const kind = candidate.slice(0, colon);
  const address = candidate.slice(colon + 1).trim();
  if (REMOTE.has(kind) || REMOTE.has(candidate)) return REMOTE_SOURCE;
  switch (kind) {
    case "self": {
      const found = address === "" ? scope.self : lookup(scope.self, address, scope, depth);
      return found === undefined ? undefined : resolveVariables(found, scope, depth + 1);
    }
    case "env":
      return scope.env[address] === "" ? undefined : scope.env[address];
    case "opt":
      return scope.options[address];
    case "sls":
      if (address === "stage") return scope.stage;
      break;
    case "aws":
      if (address === "region") return scope.region;
      if (address === "partition") return scope.region.startsWith("cn-") ? "aws-cn" : "aws";
      return REMOTE_SOURCE;
  }
  throw new VariableProblem(`\${${candidate}}: unknown variable source "${kind}"`);
}

/**
 * A `.env` file's variables: `KEY=value` lines, `export` allowed, `#`
 * comments, values optionally quoted.
 */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m || raw.trimStart().startsWith("#")) continue;
    const quoted = /^"(.*)"$|^'(.*)'$/.exec(m[2]!);
    out[m[1]!] = quoted ? quoted[1] ?? quoted[2]! : m[2]!.replace(/\s+#.*$/, "");
  }
  return out;
}

/**
 * The value at a dotted path (`custom.limits.timeout`), or `undefined`; a
 * variable met on the way (`limits: ${file(…)}`) is resolved to walk on.
 */
function lookup(data: unknown, path: string, scope: VariableScope, depth: number): unknown {
  let here = data;
  for (const part of path.split(".")) {
    if (typeof here === "string" && VARIABLE.test(here)) here = resolveVariables(here, scope, depth + 1);
    // Only the file's own keys: `constructor` or `toString` are no variable's value.
    if (here === null || typeof here !== "object" || !Object.hasOwn(here, part)) return undefined;
    here = (here as Record<string, unknown>)[part];
  }
  return here;
}
