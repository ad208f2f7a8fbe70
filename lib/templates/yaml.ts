/**
 * Reading a template file's text: YAML with CloudFormation's short tags
 * (`!Ref`, `!Sub`, `!GetAtt`, …) loaded as their long forms, or JSON. The
 * one place start-api imports the YAML package, so replacing it is a
 * one-line change.
 *
 * @module
 */

import {
  CORE_SCHEMA,
  defineMappingTag,
  defineScalarTag,
  defineSequenceTag,
  load,
  mapTag,
  seqTag,
  type TagDefinition,
  YAMLException,
} from "npm:js-yaml@5.5.0";
import { ConfigError } from "../config/types.ts";

/** CloudFormation functions with a `!Short` tag; `!Ref` and `!Condition` keep their names, the others get `Fn::`. */
const FUNCTIONS = [
  "And",
  "Base64",
  "Cidr",
  "Equals",
  "FindInMap",
  "GetAtt",
  "GetAZs",
  "If",
  "ImportValue",
  "Join",
  "Length",
  "Not",
  "Or",
  "Select",
  "Split",
  "Sub",
  "ToJsonString",
  "Transform",
];

/** The long form of `!Tag value`: `{"Ref": v}`, `{"Condition": v}`, else `{"Fn::Tag": v}`. */
function longForm(name: string, value: unknown): Record<string, unknown> {
  if (name === "Ref" || name === "Condition") return { [name]: value };
  // `!GetAtt Resource.Attribute` as a scalar: split at the first dot, as CloudFormation does.
  if (name === "GetAtt" && typeof value === "string") {
    const dot = value.indexOf(".");
    return { "Fn::GetAtt": dot === -1 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

/** One tag per short form and node kind (scalar, sequence, mapping), each built on the plain ones. */
const CUSTOM_TAGS: TagDefinition[] = ["Ref", "Condition", ...FUNCTIONS].flatMap((name) =>
  [
    defineScalarTag(`!${name}`, { resolve: (text: string) => longForm(name, text), identify: () => false }),
    defineSequenceTag(`!${name}`, {
      create: () => seqTag.create("tag:yaml.org,2002:seq"),
      addItem: seqTag.addItem,
      finalize: (items: unknown[]) => longForm(name, seqTag.finalize(items)),
      identify: () => false,
    }),
    defineMappingTag(`!${name}`, {
      create: () => mapTag.create("tag:yaml.org,2002:map"),
      addPair: mapTag.addPair,
      has: mapTag.has,
      keys: mapTag.keys,
      get: mapTag.get,
      finalize: (map: Record<string, unknown>) => longForm(name, mapTag.finalize(map)),
      identify: () => false,
    }),
  ] as TagDefinition[]
);

const TEMPLATE_SCHEMA = CORE_SCHEMA.withTags(CUSTOM_TAGS);

/** The most values a template may hold once its aliases are followed (a "billion laughs" holds 10^9). */
const MAX_VALUES = 1_000_000;
/** The most characters its strings may hold once its aliases are followed (64 Mi, beyond any real template). */
const MAX_CHARS = 64 * 1024 * 1024;
/** The deepest a template may nest, aliases followed: the readers recurse on it. */
const MAX_DEPTH = 200;

/**
 * Parses a template's text (YAML with CloudFormation tags, or JSON) into
 * plain data. Throws a {@linkcode ConfigError} naming `source` and the line,
 * or `source` alone for a value that refers to itself, nests deeper than
 * 200 levels or expands to more than a million values.
 */
export function parseTemplateText(text: string, source: string): unknown {
  const data = parseText(text, source);
  measure(data, 0, new Map(), new Set(), source);
  return data;
}

function parseText(text: string, source: string): unknown {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON after all: flow-style YAML starts the same way, so the YAML parser decides.
    }
  }
  try {
    return load(text, { schema: TEMPLATE_SCHEMA });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const line = (err.mark?.line ?? 0) + 1;
    const tag = /^unknown (?:scalar |sequence |mapping )?tag !?<?([^>\s]*)>?/.exec(err.reason);
    if (tag) {
      throw new ConfigError(
        `${source}:${line}: unknown tag: ${tag[1]!.startsWith("!") ? tag[1] : `!${tag[1]}`} ` +
          `(CloudFormation's short forms: !Ref, !Condition, !${FUNCTIONS.join(", !")})`,
      );
    }
    throw new ConfigError(`${source}:${line}: neither YAML nor JSON: ${err.reason}`);
  }
}

/**
 * The number of values `value` holds, their characters and its height, aliases followed. A
 * value met twice (an alias) is measured once, so a bomb costs what its text
 * does; one met inside itself is a cycle.
 */
interface Size {
  count: number;
  chars: number;
  height: number;
}

function measure(
  value: unknown,
  depth: number,
  known: Map<object, Size>,
  open: Set<object>,
  source: string,
): Size {
  if (value === null || typeof value !== "object") {
    return { count: 1, chars: typeof value === "string" ? value.length : 0, height: 0 };
  }
  const seen = known.get(value);
  if (seen === undefined && open.has(value)) {
    throw new ConfigError(
      `${source}: a YAML alias refers to a value that holds it (the template would be infinite)`,
    );
  }
  if (depth + (seen?.height ?? 0) >= MAX_DEPTH) {
    throw new ConfigError(`${source}: the template nests deeper than ${MAX_DEPTH} levels`);
  }
  if (seen) return seen;
  open.add(value);
  const out = { count: 1, chars: 0, height: 0 };
  for (const item of Object.values(value)) {
    const m = measure(item, depth + 1, known, open, source);
    out.count += m.count;
    out.chars += m.chars;
    out.height = Math.max(out.height, m.height + 1);
    if (out.count > MAX_VALUES) {
      throw new ConfigError(
        `${source}: the template expands to more than ${MAX_VALUES} values (YAML aliases repeated inside each other?)`,
      );
    }
    if (out.chars > MAX_CHARS) {
      throw new ConfigError(
        `${source}: the template expands to more than ${MAX_CHARS} characters (YAML aliases repeated inside each other?)`,
      );
    }
  }
  open.delete(value);
  known.set(value, out);
  return out;
}
