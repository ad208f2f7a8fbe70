/**
 * Combines the metrics of several lrp processes into one scrape. With
 * `workers` above 1 every worker keeps its own registry; a scrape gathers each
 * worker's exposition text, labels every sample with `worker="N"`
 * ({@linkcode labelSamples}) and merges the families
 * ({@linkcode mergeExpositions}) so that each `# HELP`/`# TYPE` appears once and
 * its samples stay together, as the text format requires. Summing over the
 * `worker` label gives the totals of the whole lrp.
 *
 * Pure text functions over the exposition format 0.0.4 as
 * `lib/obs/metrics.ts` renders it.
 *
 * @module
 */

import { escapeLabelValue } from "./metrics.ts";

/**
 * Adds the label `name="value"` first to every sample line of `text`;
 * comment and blank lines stay as they are. A metric name never contains `{`
 * or a space, so the first of them ends the name.
 */
export function labelSamples(text: string, name: string, value: string): string {
  const label = `${name}="${escapeLabelValue(value)}"`;
  return text.split("\n").map((line) => {
    if (line === "" || line.startsWith("#")) return line;
    const brace = line.indexOf("{");
    const space = line.indexOf(" ");
    if (space < 0) return line;
    if (brace >= 0 && brace < space) {
      const rest = line.slice(brace + 1);
      return `${line.slice(0, brace + 1)}${label}${rest.startsWith("}") ? "" : ","}${rest}`;
    }
    return `${line.slice(0, space)}{${label}}${line.slice(space)}`;
  }).join("\n");
}

/**
 * Merges exposition texts family by family, in order of first appearance:
 * one `# HELP` and `# TYPE` per family (the first text's), then the samples
 * of every text in text order.
 */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  for (const text of texts) {
    let family: { head: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const help = /^# HELP (\S+)/.exec(line);
      if (help) {
        const name = help[1]!;
        family = families.get(name);
        if (!family) families.set(name, family = { head: [line], samples: [] });
        else family = { head: [], samples: family.samples };
        continue;
      }
      if (!family) continue;
      if (line.startsWith("# TYPE ")) {
        if (family.head.length === 1) family.head.push(line);
        continue;
      }
      if (!line.startsWith("#")) family.samples.push(line);
    }
  }
  let out = "";
  for (const f of families.values()) out += [...f.head, ...f.samples].join("\n") + "\n";
  return out;
}
