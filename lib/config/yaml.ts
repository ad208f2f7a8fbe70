/**
 * The one door to the YAML parser: a text becomes its value and the line of
 * every node, so configuration errors can name `file:line`.
 *
 * The parser is the pinned `npm:js-yaml`, whose `import` export is one ES
 * module: it loads in a few milliseconds, where `npm:yaml` goes through
 * Deno's CommonJS path (~50 ms of every start-up; docs/performance.md,
 * "Start-up and memory"). Its parser events carry source offsets, from which
 * the lines are counted here. The YAML 1.2 core schema, as before: `yes` is a
 * string, no merge keys. A repeated key is reported with the document (its
 * value is the last one), so that it is one mistake among others.
 *
 * @module
 */

import {
  constructFromEvents,
  type Event,
  EVENT_ALIAS,
  EVENT_DOCUMENT,
  EVENT_MAPPING,
  EVENT_POP,
  EVENT_SCALAR,
  EVENT_SEQUENCE,
  getScalarValue,
  parseEvents,
  YAMLException,
} from "npm:js-yaml@5.5.0";

/** A key path in a document: mapping keys and sequence indexes. */
export type YamlPath = readonly (string | number)[];

/** A YAML text that does not parse: the 1-based line and the parser's reason. */
export class YamlSyntaxError extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = "YamlSyntaxError";
  }
}

/** One parsed document: its value, and where its nodes are. */
export interface YamlDocument {
  /** The document's value as plain JavaScript; `null` for an empty text. */
  readonly value: unknown;
  /** Whether the document's root is a mapping (or absent). */
  readonly rootIsMapping: boolean;
  /**
   * The 1-based line of the node at `path` (for a mapping entry, its value; an
   * empty value counts as its key's line), or 0 when no node is there.
   */
  lineOf(path: YamlPath): number;
  /** Each key repeated in its mapping: where, and the line of its first use. */
  readonly duplicates: readonly YamlDuplicate[];
}

/** A mapping key used a second time. */
export interface YamlDuplicate {
  /** The key's path (its last element is the key). */
  path: YamlPath;
  /** The 1-based line of the repeated key, and of its first use. */
  line: number;
  firstLine: number;
}

interface Frame {
  kind: "seq" | "map";
  path: string;
  index: number;
  /** A mapping's key waiting for its value, and the key's offset. */
  key: string | undefined;
  keyAt: number;
  /** A mapping's keys so far, with their lines. */
  keys: Map<string, number>;
  /** The path as a list, for duplicates. */
  parts: (string | number)[];
}

/** Parses one YAML document. Throws {@linkcode YamlSyntaxError}. */
export function parseYaml(text: string): YamlDocument {
  let events: Event[];
  let docs: unknown[];
  try {
    events = parseEvents(text, {});
    // json: a repeated key keeps its last value instead of stopping here; nodeLines reports it.
    docs = constructFromEvents(events, { source: text, json: true });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    throw new YamlSyntaxError((err.mark?.line ?? 0) + 1, err.reason);
  }
  if (docs.length > 1) {
    throw new YamlSyntaxError(lineAt(lineStarts(text), documentStart(events, 1)), "more than one document");
  }
  const starts = lineStarts(text);
  const duplicates: YamlDuplicate[] = [];
  const lines = nodeLines(events, text, starts, duplicates);
  const rootType = events.find((e) => e.type !== EVENT_DOCUMENT)?.type;
  return {
    value: docs[0] ?? null,
    rootIsMapping: rootType === undefined || rootType === EVENT_MAPPING ||
      (rootType === EVENT_SCALAR && (docs[0] ?? null) === null),
    lineOf: (path) => lines.get(pathKey(path)) ?? 0,
    duplicates,
  };
}

function pathKey(path: YamlPath): string {
  return path.map((p) => typeof p === "number" ? `[${p}]` : `.${p}`).join("");
}

/** The offset of the n-th document's first node. */
function documentStart(events: Event[], n: number): number {
  let seen = -1;
  for (const e of events) {
    if (e.type === EVENT_DOCUMENT) seen++;
    else if (seen === n) return eventStart(e);
  }
  return 0;
}

function eventStart(e: Event): number {
  switch (e.type) {
    case EVENT_SCALAR:
      return e.valueStart;
    case EVENT_SEQUENCE:
    case EVENT_MAPPING:
      return e.start;
    case EVENT_ALIAS:
      return e.anchorStart;
    default:
      return -1;
  }
}

/** The line of each node of the first document, by its path; repeated keys go to `duplicates`. */
function nodeLines(
  events: Event[],
  text: string,
  starts: number[],
  duplicates: YamlDuplicate[],
): Map<string, number> {
  const lines = new Map<string, number>();
  const stack: Frame[] = [];
  let documents = 0;
  for (const e of events) {
    if (e.type === EVENT_DOCUMENT) {
      if (++documents > 1) break;
      continue;
    }
    if (e.type === EVENT_POP) {
      stack.pop();
      continue;
    }
    const parent = stack[stack.length - 1];
    let path = "";
    let parts: (string | number)[] = [];
    let at = eventStart(e);
    if (parent?.kind === "map") {
      if (parent.key === undefined) {
        // A key (always a scalar: the constructor refuses collection keys), remembered until its value.
        const key = e.type === EVENT_SCALAR ? getScalarValue(text, e) : "";
        const line = lineAt(starts, at);
        const first = parent.keys.get(key);
        if (first === undefined) parent.keys.set(key, line);
        else duplicates.push({ path: [...parent.parts, key], line, firstLine: first });
        parent.key = key;
        parent.keyAt = at;
        continue;
      }
      path = `${parent.path}.${parent.key}`;
      parts = [...parent.parts, parent.key];
      // An empty value has no text of its own: the key's line stands for it.
      if (at < 0 || (e.type === EVENT_SCALAR && e.valueStart === e.valueEnd)) at = parent.keyAt;
      parent.key = undefined;
    } else if (parent?.kind === "seq") {
      parts = [...parent.parts, parent.index];
      path = `${parent.path}[${parent.index++}]`;
    }
    if (at >= 0 && !lines.has(path)) lines.set(path, lineAt(starts, at));
    if (e.type === EVENT_SEQUENCE || e.type === EVENT_MAPPING) {
      stack.push({
        kind: e.type === EVENT_SEQUENCE ? "seq" : "map",
        path,
        index: 0,
        key: undefined,
        keyAt: 0,
        keys: new Map(),
        parts,
      });
    }
  }
  return lines;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** The 1-based line holding `offset`. */
function lineAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
