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

/**
 * Parses a template's text (YAML with CloudFormation tags, or JSON) into
 * plain data. Throws a {@linkcode ConfigError} naming `source` and the line.
 */
export function parseTemplateText(text: string, source: string): unknown {
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
