/**
 * Request headers as lrp's server read them, behind the part of the
 * `Headers` interface lrp uses: no per-line validation (the server already
 * checked every name and value byte), no copy, no sort until someone
 * iterates. Reads equal a `Headers` built from the same lines
 * (docs/performance.md, round 5).
 *
 * Pure.
 *
 * @module
 */

/** What lrp reads of request headers: a fetch `Headers` has it, and so has {@linkcode HeaderLines}. */
export interface HeaderView {
  /** The values of `name` (any case) joined with `, `; `null` when absent. */
  get(name: string): string | null;
  /** Whether `name` (any case) is present. */
  has(name: string): boolean;
  /** Names lower-cased, sorted, repeats joined with `, ` (each `set-cookie` on its own), as `Headers` iterates. */
  [Symbol.iterator](): Iterator<[string, string]>;
}

/**
 * Header lines, names lower-case and values trimmed (as the server's reader
 * gives them), read as `Headers` reads them.
 */
export class HeaderLines implements HeaderView {
  readonly #lines: [string, string][];

  /** Wraps lines whose names are lower-case tokens and whose values are trimmed field values. */
  constructor(lines: [string, string][]) {
    this.#lines = lines;
  }

  /** The lines as received, in order. */
  get lines(): readonly (readonly [string, string])[] {
    return this.#lines;
  }

  get(name: string): string | null {
    const n = lowerName(name);
    const lines = this.#lines;
    let out: string | null = null;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line[0] === n) out = out === null ? line[1] : `${out}, ${line[1]}`;
    }
    return out;
  }

  has(name: string): boolean {
    const n = lowerName(name);
    const lines = this.#lines;
    for (let i = 0; i < lines.length; i++) if (lines[i]![0] === n) return true;
    return false;
  }

  [Symbol.iterator](): Iterator<[string, string]> {
    return combined(this.#lines)[Symbol.iterator]();
  }
}

/** `name` lower-cased; names lrp asks for usually are already. */
function lowerName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase();
  }
  return name;
}

/**
 * Fetch's "sort and combine" as Deno's `Headers` does it: sorted by name,
 * repeats joined with `, ` (after an empty value, the next replaces it), every
 * `set-cookie` kept apart.
 */
function combined(lines: [string, string][]): [string, string][] {
  const sorted = lines.length < 2 ? lines : sortedByName(lines);
  const out: [string, string][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const [name, value] = sorted[i]!;
    const last = out[out.length - 1];
    if (last === undefined || last[0] !== name || name === "set-cookie") out.push([name, value]);
    // As Deno's `Headers` iterates: a value joins an empty one's place rather than following it.
    else last[1] = last[1] === "" ? value : `${last[1]}, ${value}`;
  }
  return out;
}

/**
 * A copy of `lines` in byte order of their names (ASCII tokens), stable for
 * equal names, so their values join in arrival order: an insertion sort, as
 * a request has a few lines and `Array.prototype.sort` with a comparator
 * costs more than the sorting itself at that size.
 */
function sortedByName(lines: [string, string][]): [string, string][] {
  const out = lines.slice();
  for (let i = 1; i < out.length; i++) {
    const line = out[i]!;
    let j = i - 1;
    while (j >= 0 && out[j]![0] > line[0]) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = line;
  }
  return out;
}
