/**
 * Reading a template file's text: YAML with CloudFormation's short tags
 * (`!Ref`, `!Sub`, `!GetAtt`, …) loaded as their long forms, or JSON. The
 * one place start-api imports the YAML package, so replacing it is a
 * one-line change.
 *
 * @module
 */

// @ts-types="npm:yaml@2.9.1"
import { LineCounter, parseDocument } from "../vendor/yaml.js";
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

/** A node the YAML package hands to a custom tag (a map or sequence). */
interface Collection {
  toJSON(): unknown;
}

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

/** One custom tag per short form and node kind (scalar, sequence, mapping). */
const CUSTOM_TAGS = ["Ref", "Condition", ...FUNCTIONS].flatMap((name) => [
  { tag: `!${name}`, resolve: (text: string) => longForm(name, text) },
  { tag: `!${name}`, collection: "seq", resolve: (c: Collection) => longForm(name, c.toJSON()) },
  { tag: `!${name}`, collection: "map", resolve: (c: Collection) => longForm(name, c.toJSON()) },
]);

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
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    // deno-lint-ignore no-explicit-any
    customTags: CUSTOM_TAGS as any,
  });
  const error = doc.errors[0];
  if (error) {
    const line = lines.linePos(error.pos[0]).line;
    throw new ConfigError(`${source}:${line}: neither YAML nor JSON: ${error.message.split("\n")[0]}`);
  }
  const tag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
  if (tag) {
    const line = lines.linePos(tag.pos[0]).line;
    throw new ConfigError(
      `${source}:${line}: ${tag.message.split("\n")[0]!.replace(/^Unresolved tag/, "unknown tag")} ` +
        `(CloudFormation's short forms: !Ref, !Condition, !${FUNCTIONS.join(", !")})`,
    );
  }
  return doc.toJS({ maxAliasCount: 1000 });
}
