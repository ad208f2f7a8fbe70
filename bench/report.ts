/**
 * Turns benchmark samples into medians, ratios, target verdicts and the
 * markdown table the bench prints. Pure: no I/O.
 *
 * @module
 */

import type { LoadSample } from "./load.ts";

/** The systems measured, in table order. */
export const SYSTEMS = ["direct", "nginx", "lrp-local", "lrp-aws"] as const;
/** One of {@linkcode SYSTEMS}. */
export type SystemName = typeof SYSTEMS[number];

/** Medians of one cell (system × connections × body size) across rounds. */
export interface Cell {
  system: SystemName;
  connections: number;
  bodyBytes: number;
  samples: LoadSample[];
  rps: number;
  p50Us: number;
  p99Us: number;
  /** Non-2xx answers plus socket errors, summed over rounds. */
  errors: number;
  /** lrp rows only: rps / direct rps and rps / nginx rps. */
  vsDirect?: number;
  vsNginx?: number;
  /** Set instead of figures when the system could not run. */
  skipped?: string;
}

/** One target of the README with its measured value. */
export interface Verdict {
  target: string;
  value: string;
  pass: boolean | undefined;
}

/** The median of a list (mean of the middle two for even lengths); NaN when empty. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Builds a cell from its samples; ratios are filled by {@linkcode addRatios}. */
export function makeCell(
  system: SystemName,
  connections: number,
  bodyBytes: number,
  samples: LoadSample[],
  skipped?: string,
): Cell {
  const cell: Cell = {
    system,
    connections,
    bodyBytes,
    samples,
    rps: median(samples.map((s) => s.rps)),
    p50Us: median(samples.map((s) => s.p50Us)),
    p99Us: median(samples.map((s) => s.p99Us)),
    errors: samples.reduce((n, s) => n + s.non2xx + s.socketErrors, 0),
  };
  if (skipped !== undefined) cell.skipped = skipped;
  return cell;
}

/** Finds the cell of a system at a load point. */
export function find(
  cells: Cell[],
  system: SystemName,
  connections: number,
  bodyBytes: number,
): Cell | undefined {
  return cells.find((c) => c.system === system && c.connections === connections && c.bodyBytes === bodyBytes);
}

/** Sets `vsDirect` and `vsNginx` on the lrp cells. */
export function addRatios(cells: Cell[]): void {
  for (const cell of cells) {
    if (!cell.system.startsWith("lrp") || cell.skipped !== undefined) continue;
    const direct = find(cells, "direct", cell.connections, cell.bodyBytes);
    const nginx = find(cells, "nginx", cell.connections, cell.bodyBytes);
    if (direct && direct.skipped === undefined) cell.vsDirect = cell.rps / direct.rps;
    if (nginx && nginx.skipped === undefined) cell.vsNginx = cell.rps / nginx.rps;
  }
}

/** `0 B`, `4 KB`, `1 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${bytes / (1 << 20)} MB`;
  if (bytes >= 1024) return `${bytes / 1024} KB`;
  return `${bytes} B`;
}

/** Microseconds as `412 µs` or `3.21 ms`. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return "–";
  return us < 1000 ? `${Math.round(us)} µs` : `${(us / 1000).toFixed(2)} ms`;
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? "" : `${ratio.toFixed(2)}×`;
}

/** The markdown table: one row per cell. */
export function markdownTable(cells: Cell[]): string {
  const rows = [
    "| conns | body | system | req/s | p50 | p99 | errors | lrp/direct | lrp/nginx |",
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const c of cells) {
    const head = `| ${c.connections} | ${formatBytes(c.bodyBytes)} | ${c.system} |`;
    if (c.skipped !== undefined) {
      // The full reason is printed once below the table.
      rows.push(`${head} skipped: ${c.skipped.split(":")[0]} | | | | | |`);
      continue;
    }
    rows.push(
      `${head} ${Math.round(c.rps)} | ${formatUs(c.p50Us)} | ${formatUs(c.p99Us)} | ${c.errors} | ` +
        `${formatRatio(c.vsDirect)} | ${formatRatio(c.vsNginx)} |`,
    );
  }
  return rows.join("\n");
}

/** Figures measured outside the load runs. */
export interface Extras {
  startupLocalMs: number | undefined;
  peakRssMb: number | undefined;
}

/**
 * Judges the README's targets. A target whose inputs were skipped has
 * `pass: undefined` and says why in `value`.
 */
export function verdicts(cells: Cell[], extras: Extras): Verdict[] {
  const ok = (c: Cell | undefined): c is Cell => c !== undefined && c.skipped === undefined;
  const out: Verdict[] = [];
  const missing = (target: string) => out.push({ target, value: "not measured", pass: undefined });

  for (const body of [0, 4096]) {
    const target = `64 conns ${formatBytes(body)}: lrp-aws req/s ≥ 0.6 × nginx`;
    const lrp = find(cells, "lrp-aws", 64, body);
    const nginx = find(cells, "nginx", 64, body);
    if (ok(lrp) && ok(nginx)) {
      const ratio = lrp.rps / nginx.rps;
      out.push({ target, value: `${ratio.toFixed(2)}×`, pass: ratio >= 0.6 });
    } else missing(target);
  }
  for (const system of ["lrp-local", "lrp-aws"] as const) {
    for (const body of [0, 4096]) {
      const target = `1 conn ${formatBytes(body)}: ${system} p50 ≤ nginx p50 + 100 µs`;
      const lrp = find(cells, system, 1, body);
      const nginx = find(cells, "nginx", 1, body);
      if (ok(lrp) && ok(nginx)) {
        const extra = lrp.p50Us - nginx.p50Us;
        out.push({ target, value: `+${Math.round(extra)} µs`, pass: extra <= 100 });
      } else missing(target);
    }
  }
  for (const connections of [1, 64]) {
    const target = `${connections} conn(s) 0 B: lrp-local req/s ≥ 0.8 × backend serialized (direct, 1 conn)`;
    const lrp = find(cells, "lrp-local", connections, 0);
    const direct = find(cells, "direct", 1, 0);
    if (ok(lrp) && ok(direct)) {
      const ratio = lrp.rps / direct.rps;
      out.push({ target, value: `${ratio.toFixed(2)}×`, pass: ratio >= 0.8 });
    } else missing(target);
  }
  const startup = "start-up to first proxied request, local-only ≤ 150 ms";
  if (extras.startupLocalMs !== undefined) {
    out.push({
      target: startup,
      value: `${Math.round(extras.startupLocalMs)} ms`,
      pass: extras.startupLocalMs <= 150,
    });
  } else missing(startup);
  const rss = "lrp peak RSS at 64 conns ≤ 120 MB";
  if (extras.peakRssMb !== undefined) {
    out.push({ target: rss, value: `${extras.peakRssMb.toFixed(1)} MB`, pass: extras.peakRssMb <= 120 });
  } else missing(rss);
  return out;
}

/** Verdicts as a markdown list. */
export function markdownVerdicts(list: Verdict[]): string {
  return list.map((v) => {
    const mark = v.pass === undefined ? "n/a " : v.pass ? "PASS" : "FAIL";
    return `- ${mark} ${v.target}: ${v.value}`;
  }).join("\n");
}
