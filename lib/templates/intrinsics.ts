/**
 * CloudFormation's intrinsic functions, resolved as far as they can be
 * without AWS: `Ref` (parameters, pseudo parameters, resources), `Fn::Sub`,
 * `Fn::GetAtt` (a function's `Arn`), `Fn::Join`, `Fn::Split`, `Fn::Select`,
 * `Fn::FindInMap`, `Fn::If` with `Conditions`, `Fn::Equals`, `Fn::And`,
 * `Fn::Or`, `Fn::Not`, `Fn::Base64`, `Fn::GetAZs`, `Fn::Length`,
 * `Fn::ToJsonString`. `AWS::NoValue` removes the key or item holding it.
 *
 * What cannot be known locally (`Fn::ImportValue`, most `Fn::GetAtt`, a
 * parameter without a value) throws {@linkcode Unresolvable} saying what is
 * missing; the reader adds the resource and property. Pure.
 *
 * @module
 */

/** A value that cannot be resolved locally; `message` says what is missing. */
export class Unresolvable extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "Unresolvable";
  }
}

/** What intrinsic functions resolve against. */
export interface CfnScope {
  /** Parameter values by name, pseudo parameters included (`AWS::Region`, …); lists for list types. */
  parameters: Record<string, string | string[]>;
  /** Parameters declared without a value (no override, no `Default`), for a precise message. */
  unset: Set<string>;
  /** Resource logical ids and their types. */
  resources: Record<string, string>;
  /** The template's `Mappings`. */
  mappings: Record<string, unknown>;
  /** The template's `Conditions` (evaluated on demand, each once). */
  conditions: Record<string, unknown>;
  region: string;
  accountId: string;
}

/** The value of `AWS::NoValue`: the key or item holding it is removed. */
export const NO_VALUE: unique symbol = Symbol("AWS::NoValue");

/**
 * The pseudo parameters as lrp gives them: the account and stack are fixed
 * local values (docs/start-api.md, "Parameters").
 */
export function pseudoParameters(region: string): Record<string, string | string[]> {
  const partition = region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
  return {
    "AWS::Region": region,
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "local",
    "AWS::StackId":
      `arn:${partition}:cloudformation:${region}:123456789012:stack/local/00000000-0000-0000-0000-000000000000`,
    "AWS::Partition": partition,
    "AWS::URLSuffix": partition === "aws-cn" ? "amazonaws.com.cn" : "amazonaws.com",
    "AWS::NotificationARNs": [],
  };
}

/** Evaluates conditions once each; a condition that refers to itself is an error. */
class Conditions {
  #values = new Map<string, boolean | "busy">();
  constructor(private scope: CfnScope) {}

  get(name: unknown): boolean {
    if (typeof name !== "string" || !Object.hasOwn(this.scope.conditions, name)) {
      throw new Unresolvable(`condition ${JSON.stringify(name)} is not in the template's Conditions`);
    }
    const known = this.#values.get(name);
    if (known === "busy") throw new Unresolvable(`condition ${name} depends on itself`);
    if (known !== undefined) return known;
    this.#values.set(name, "busy");
    const value = resolve(this.scope.conditions[name], this.scope, this);
    if (typeof value !== "boolean") {
      throw new Unresolvable(`condition ${name} is not true or false (${JSON.stringify(value)})`);
    }
    this.#values.set(name, value);
    return value;
  }
}

/** Per-scope condition caches, so each condition is evaluated once per template. */
const caches = new WeakMap<CfnScope, Conditions>();

/** Whether the condition `name` holds. Throws {@linkcode Unresolvable}. */
export function condition(name: unknown, scope: CfnScope): boolean {
  let cache = caches.get(scope);
  if (!cache) caches.set(scope, cache = new Conditions(scope));
  return cache.get(name);
}

/**
 * `value` with every intrinsic function resolved; {@linkcode NO_VALUE}
 * when the whole value is `AWS::NoValue`. Throws {@linkcode Unresolvable}.
 */
export function resolveValue(value: unknown, scope: CfnScope): unknown {
  let cache = caches.get(scope);
  if (!cache) caches.set(scope, cache = new Conditions(scope));
  return resolve(value, scope, cache);
}

function resolve(value: unknown, scope: CfnScope, conditions: Conditions): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => resolve(v, scope, conditions)).filter((v) => v !== NO_VALUE);
  }
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [key, arg] = entries[0]!;
    if (key === "Ref" || key === "Condition" || key.startsWith("Fn::")) {
      return intrinsic(key, arg, scope, conditions);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const r = resolve(v, scope, conditions);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

function intrinsic(fn: string, arg: unknown, scope: CfnScope, conditions: Conditions): unknown {
  const r = (v: unknown) => resolve(v, scope, conditions);
  const list = (v: unknown, n?: number): unknown[] => {
    const l = r(v);
    if (!Array.isArray(l) || (n !== undefined && l.length !== n)) {
      throw new Unresolvable(
        `${fn} needs a list${n === undefined ? "" : ` of ${n}`}, not ${JSON.stringify(v)}`,
      );
    }
    return l;
  };
  const text = (v: unknown, what: string): string => {
    const t = r(v);
    if (typeof t === "number" || typeof t === "boolean") return String(t);
    if (typeof t !== "string") {
      throw new Unresolvable(`${fn}: ${what} must be a string, not ${JSON.stringify(t)}`);
    }
    return t;
  };
  switch (fn) {
    case "Ref":
      return ref(arg, scope);
    case "Condition":
      return conditions.get(arg);
    case "Fn::GetAtt": {
      const [id, attr] = typeof arg === "string"
        ? [arg.slice(0, arg.indexOf(".")), arg.slice(arg.indexOf(".") + 1)]
        : list(arg, 2).map((x) => String(x));
      return getAtt(id!, attr!, scope);
    }
    case "Fn::Sub":
      return sub(arg, scope, r);
    case "Fn::Join": {
      const [sep, items] = list(arg, 2);
      if (!Array.isArray(items)) throw new Unresolvable(`Fn::Join needs a list of values`);
      return items.map((x) => text(x, "each joined value")).join(text(sep, "the separator"));
    }
    case "Fn::Split": {
      const [sep, source] = list(arg, 2);
      return text(source, "the string").split(text(sep, "the separator"));
    }
    case "Fn::Select": {
      const [index, items] = list(arg, 2);
      const i = Number(r(index));
      if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
        throw new Unresolvable(
          `Fn::Select: index ${JSON.stringify(index)} is not in ${JSON.stringify(items)}`,
        );
      }
      return items[i];
    }
    case "Fn::FindInMap": {
      const [map, top, second] = list(arg).map((x, i) =>
        text(x, ["the map name", "the top key", "the key"][i]!)
      );
      const found = own(own(own(scope.mappings, map!), top!), second!);
      if (found === undefined) {
        throw new Unresolvable(`Fn::FindInMap: Mappings.${map}.${top}.${second} does not exist`);
      }
      return r(found);
    }
    case "Fn::If": {
      const [name, yes, no] = Array.isArray(arg) && arg.length === 3 ? arg : [];
      if (name === undefined) {
        throw new Unresolvable(`Fn::If needs [condition, value if true, value if false]`);
      }
      return r(conditions.get(name) ? yes : no);
    }
    case "Fn::Equals": {
      const [a, b] = list(arg, 2);
      return JSON.stringify(stringy(a)) === JSON.stringify(stringy(b));
    }
    case "Fn::And":
    case "Fn::Or": {
      const values = list(arg).map((x) => {
        if (typeof x !== "boolean") throw new Unresolvable(`${fn}: ${JSON.stringify(x)} is not a condition`);
        return x;
      });
      return fn === "Fn::And" ? values.every((x) => x) : values.some((x) => x);
    }
    case "Fn::Not": {
      const [x] = list(arg, 1);
      if (typeof x !== "boolean") throw new Unresolvable(`Fn::Not: ${JSON.stringify(x)} is not a condition`);
      return !x;
    }
    case "Fn::Base64": {
      const bytes = new TextEncoder().encode(text(arg, "the value"));
      return btoa(String.fromCharCode(...bytes));
    }
    case "Fn::GetAZs":
      return ["a", "b", "c"].map((z) => `${text(arg, "the region") || scope.region}${z}`);
    case "Fn::Length":
      return list(arg).length;
    case "Fn::ToJsonString":
      return JSON.stringify(r(arg));
    case "Fn::ImportValue":
      throw new Unresolvable(
        `Fn::ImportValue ${JSON.stringify(r(arg))} is another stack's output, which lrp cannot read locally`,
      );
    default:
      throw new Unresolvable(`${fn} cannot be resolved locally`);
  }
}

/**
 * `map[key]` when `map` is an object that has `key` itself; never what every
 * object inherits (`constructor`, `toString`), which is no template's entry.
 */
function own(map: unknown, key: string): unknown {
  return map !== null && typeof map === "object" && Object.hasOwn(map, key)
    ? (map as Record<string, unknown>)[key]
    : undefined;
}

/** Numbers and booleans compare as their text, as CloudFormation compares parameter values. */
function stringy(v: unknown): unknown {
  return typeof v === "number" || typeof v === "boolean" ? String(v) : v;
}

function ref(name: unknown, scope: CfnScope): unknown {
  if (typeof name !== "string") throw new Unresolvable(`Ref needs a name, not ${JSON.stringify(name)}`);
  if (name === "AWS::NoValue") return NO_VALUE;
  const value = own(scope.parameters, name);
  if (value !== undefined) return value;
  if (scope.unset.has(name)) {
    throw new Unresolvable(
      `parameter ${name} has no value: give it a Default or pass --parameter-overrides ${name}=VALUE`,
    );
  }
  if (Object.hasOwn(scope.resources, name)) return name;
  throw new Unresolvable(`Ref ${name}: no parameter or resource of that name`);
}

function getAtt(id: string, attr: string, scope: CfnScope): string {
  const type = own(scope.resources, id);
  if (type === undefined) {
    throw new Unresolvable(`Fn::GetAtt ${id}.${attr}: no resource ${id} in the template`);
  }
  const partition = String(scope.parameters["AWS::Partition"] ?? "aws");
  if (attr === "Arn" && (type === "AWS::Serverless::Function" || type === "AWS::Lambda::Function")) {
    return `arn:${partition}:lambda:${scope.region}:${scope.accountId}:function:${id}`;
  }
  throw new Unresolvable(`Fn::GetAtt ${id}.${attr} (${type}) is only known once deployed`);
}

function sub(arg: unknown, scope: CfnScope, r: (v: unknown) => unknown): string {
  const [template, vars] = Array.isArray(arg) ? arg : [arg, {}];
  if (typeof template !== "string") {
    throw new Unresolvable(`Fn::Sub needs a string, not ${JSON.stringify(template)}`);
  }
  const locals = (r(vars ?? {}) ?? {}) as Record<string, unknown>;
  return template.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
    if (name.startsWith("!")) return `\${${name.slice(1)}}`;
    const key = name.trim();
    if (Object.hasOwn(locals, key)) return String(locals[key]);
    const dot = key.indexOf(".");
    if (dot !== -1 && !key.startsWith("AWS::")) return getAtt(key.slice(0, dot), key.slice(dot + 1), scope);
    const value = ref(key, scope);
    if (value === NO_VALUE || typeof value === "object") {
      throw new Unresolvable(`Fn::Sub: ${whole} is not a single value`);
    }
    return String(value);
  });
}
