/**
 * Turns benchmark samples into medians, ratios, target verdicts and the
 * markdown tables the bench prints. Pure: no I/O.
 *
 * @module
 */

import type { LoadSample } from "./load.ts";

/** A system the bench measures: a short id and the words the summary table shows. */
export interface SystemInfo {
  name: string;
  label: string;
}

/** One load run plus what the bench read from `/proc` around it. */
export interface Sample extends LoadSample {
  /** The system's own processes' utime+stime over the run ÷ requests completed, in µs. */
  cpuUsPerRequest?: number;
  /** Sum of VmRSS over the system's processes right after the run, in MB. */
  rssMb?: number;
  /** Sum of VmHWM (peak RSS, reset before the run where Linux allows) over the system's processes, in MB. */
  hwmMb?: number;
}

/** Medians of one cell (system × connections × body size) across rounds. */
export interface Cell {
  system: string;
  connections: number;
  bodyBytes: number;
  samples: Sample[];
  rps: number;
  p50Us: number;
  p99Us: number;
  /** Median over the rounds that had a CPU reading; undefined when none had. */
  cpuUsPerRequest?: number;
  /** Non-2xx answers plus socket errors, summed over rounds. */
  errors: number;
  /** rps / nginx rps at the same point. */
  vsNginx?: number;
  /** Set instead of figures when the system could not run. */
  skipped?: string;
}

/** One target with its measured value. */
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

/**
 * CPU µs per request from two tick readings of a process tree around a run:
 * `(after − before) / ticksPerSecond` seconds spread over the requests the
 * load tool saw completed. Undefined when a reading is missing, or when
 * fewer than 10 requests per connection completed: then the requests in
 * flight at the start and the end of the run (up to one per connection,
 * their CPU counted but not them) would skew the figure by more than 10 %.
 */
export function cpuUsPerRequest(
  before: number | undefined,
  after: number | undefined,
  ticksPerSecond: number,
  requests: number,
  connections: number,
): number | undefined {
  if (before === undefined || after === undefined || after < before) return undefined;
  if (requests <= 0 || requests < 10 * connections) return undefined;
  return ((after - before) / ticksPerSecond) * 1e6 / requests;
}

/** Builds a cell from its samples; `vsNginx` is filled by {@linkcode addRatios}. */
export function makeCell(
  system: string,
  connections: number,
  bodyBytes: number,
  samples: Sample[],
  skipped?: string,
): Cell {
  const cpu = samples.flatMap((s) => s.cpuUsPerRequest === undefined ? [] : [s.cpuUsPerRequest]);
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
  if (cpu.length > 0) cell.cpuUsPerRequest = median(cpu);
  if (skipped !== undefined) cell.skipped = skipped;
  return cell;
}

/** Finds the cell of a system at a load point. */
export function find(
  cells: Cell[],
  system: string,
  connections: number,
  bodyBytes: number,
): Cell | undefined {
  return cells.find((c) => c.system === system && c.connections === connections && c.bodyBytes === bodyBytes);
}

/** Sets `vsNginx` on every measured cell whose load point nginx has too. */
export function addRatios(cells: Cell[]): void {
  for (const cell of cells) {
    if (cell.skipped !== undefined) continue;
    const nginx = find(cells, "nginx", cell.connections, cell.bodyBytes);
    if (nginx && nginx.skipped === undefined && nginx.rps > 0) cell.vsNginx = cell.rps / nginx.rps;
  }
}

/** `0 B`, `4 KB`, `1 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${bytes / (1 << 20)} MB`;
  if (bytes >= 1024) return `${bytes / 1024} KB`;
  return `${bytes} B`;
}

/** Microseconds as `412 µs` or `3.21 ms`. */
export function formatUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return "–";
  return us < 1000 ? `${Math.round(us)} µs` : `${(us / 1000).toFixed(2)} ms`;
}

function formatRatio(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? "–" : `${ratio.toFixed(2)}`;
}

function formatInt(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? "–" : Math.round(n).toLocaleString("en-US");
}

/** Memory of one system at one body size: VmRSS after the run, VmHWM during it. */
export interface Memory {
  rssMb: number;
  hwmMb: number;
}

function formatMemory(m: Memory | undefined): string {
  return m === undefined ? "–" : `${Math.round(m.rssMb)} / ${Math.round(m.hwmMb)} MB`;
}

/** One row of the summary table. */
export interface SummaryRow {
  system: string;
  label: string;
  rps64?: number;
  vsNginx?: number;
  cpuUsPerRequest?: number;
  p50c1Us?: number;
  /** At 64 connections, 0 B: the first round (the process had seen no large body yet). */
  memory0?: Memory;
  /** At 64 connections, 1 MB: VmRSS median and VmHWM maximum over the rounds. */
  memory1m?: Memory;
  /** Errors summed over every run of the system. */
  errors: number;
}

/** The 1 MB load point of the memory column. */
export const LARGE_BODY = 1 << 20;

/** The summary rows of the measured systems, in the order given. */
export function summaryRows(systems: SystemInfo[], cells: Cell[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const { name, label } of systems) {
    const mine = cells.filter((c) => c.system === name && c.skipped === undefined);
    if (mine.length === 0) continue;
    const row: SummaryRow = { system: name, label, errors: mine.reduce((n, c) => n + c.errors, 0) };
    const c64 = find(mine, name, 64, 0);
    const c1 = find(mine, name, 1, 0);
    if (c64) {
      row.rps64 = c64.rps;
      if (c64.vsNginx !== undefined) row.vsNginx = c64.vsNginx;
      if (c64.cpuUsPerRequest !== undefined) row.cpuUsPerRequest = c64.cpuUsPerRequest;
      const first = c64.samples[0];
      if (first?.rssMb !== undefined && first.hwmMb !== undefined) {
        row.memory0 = { rssMb: first.rssMb, hwmMb: first.hwmMb };
      }
    }
    if (c1) row.p50c1Us = c1.p50Us;
    const big = find(mine, name, 64, LARGE_BODY);
    const withMemory = big?.samples.filter((s) => s.rssMb !== undefined && s.hwmMb !== undefined) ?? [];
    if (withMemory.length > 0) {
      row.memory1m = {
        rssMb: median(withMemory.map((s) => s.rssMb!)),
        hwmMb: Math.max(...withMemory.map((s) => s.hwmMb!)),
      };
    }
    rows.push(row);
  }
  return rows;
}

/** The header line of {@linkcode summaryTable}, exported so tests pin the columns. */
export const SUMMARY_HEADER =
  "| system | req/s, 64 conns | × nginx | CPU µs / request | p50, 1 conn | RSS 0 B, 64 conns (now / peak) | " +
  "RSS 1 MB, 64 conns (now / peak) | errors |";

/** The one table the bench is read by: a row per system, figures at 64 connections 0 B unless named. */
export function summaryTable(rows: SummaryRow[]): string {
  const out = [SUMMARY_HEADER, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"];
  for (const r of rows) {
    out.push(
      `| ${r.label} | ${formatInt(r.rps64)} | ${formatRatio(r.vsNginx)} | ${
        formatInt(r.cpuUsPerRequest)
      } | ` +
        `${formatUs(r.p50c1Us)} | ${formatMemory(r.memory0)} | ${formatMemory(r.memory1m)} | ${r.errors} |`,
    );
  }
  return out.join("\n");
}

/** Every measured load point: one row per cell. */
export function detailTable(cells: Cell[]): string {
  const rows = [
    "| conns | body | system | req/s | p50 | p99 | CPU µs / req | errors | × nginx |",
    "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const c of cells) {
    if (c.skipped !== undefined) continue;
    rows.push(
      `| ${c.connections} | ${formatBytes(c.bodyBytes)} | ${c.system} | ${formatInt(c.rps)} | ${
        formatUs(c.p50Us)
      } | ` +
        `${formatUs(c.p99Us)} | ${formatInt(c.cpuUsPerRequest)} | ${c.errors} | ${formatRatio(c.vsNginx)} |`,
    );
  }
  return rows.join("\n");
}

/** Figures measured outside the load runs. */
export interface Extras {
  startupLocalMs: number | undefined;
}

/**
 * Judges issue 12's targets. A target whose inputs were not measured has
 * `pass: undefined` and says so in `value`.
 */
export function verdicts(cells: Cell[], rows: SummaryRow[], extras: Extras): Verdict[] {
  const ok = (c: Cell | undefined): c is Cell => c !== undefined && c.skipped === undefined;
  const out: Verdict[] = [];
  const missing = (target: string) => out.push({ target, value: "not measured", pass: undefined });

  for (
    const [lrp, lean] of [
      ["lrp-aws", "lean-signed"],
      ["lrp-local", "lean"],
      ["lrp-local", "lean-fresh"],
      ["lrp-local", "lean-serial"],
    ] as const
  ) {
    const target = `64 conns 0 B: ${lrp} CPU/request ≤ 1.25 × ${lean}`;
    const a = find(cells, lrp, 64, 0)?.cpuUsPerRequest;
    const b = find(cells, lean, 64, 0)?.cpuUsPerRequest;
    if (a !== undefined && b !== undefined && b > 0) {
      out.push({
        target,
        value: `${(a / b).toFixed(2)}× (${Math.round(a)} vs ${Math.round(b)} µs)`,
        pass: a <= 1.25 * b,
      });
    } else missing(target);
  }
  {
    const target = "64 conns 0 B: lrp-aws req/s ≥ 0.5 × nginx";
    const lrp = find(cells, "lrp-aws", 64, 0);
    if (ok(lrp) && lrp.vsNginx !== undefined) {
      out.push({ target, value: `${lrp.vsNginx.toFixed(2)}×`, pass: lrp.vsNginx >= 0.5 });
    } else missing(target);
  }
  {
    const target = "64 conns 0 B: lrp-aws with 2 workers req/s ≥ 1 worker";
    const one = find(cells, "lrp-aws", 64, 0);
    const two = find(cells, "lrp-aws-w2", 64, 0);
    if (ok(one) && ok(two)) {
      out.push({ target, value: `${(two.rps / one.rps).toFixed(2)}×`, pass: two.rps >= one.rps });
    } else missing(target);
  }
  for (const system of ["lrp-local", "lrp-aws"] as const) {
    const target = `1 conn 0 B: ${system} p50 ≤ nginx p50 + 60 µs`;
    const lrp = find(cells, system, 1, 0);
    const nginx = find(cells, "nginx", 1, 0);
    if (ok(lrp) && ok(nginx)) {
      const extra = lrp.p50Us - nginx.p50Us;
      out.push({ target, value: `${extra >= 0 ? "+" : ""}${Math.round(extra)} µs`, pass: extra <= 60 });
    } else missing(target);
  }
  {
    const target = "64 conns 0 B: lrp-local req/s ≥ 0.5 × backend serialized rate (direct, 1 conn)";
    const lrp = find(cells, "lrp-local", 64, 0);
    const direct = find(cells, "direct", 1, 0);
    if (ok(lrp) && ok(direct)) {
      const ratio = lrp.rps / direct.rps;
      out.push({ target, value: `${ratio.toFixed(2)}×`, pass: ratio >= 0.5 });
    } else missing(target);
  }
  const lrpRows = rows.filter((r) => r.system === "lrp-local" || r.system === "lrp-aws");
  for (const [which, limit] of [["memory0", 100], ["memory1m", 300]] as const) {
    const target = `lrp peak RSS at 64 conns, ${which === "memory0" ? "0 B" : "1 MB"} ≤ ${limit} MB`;
    const peaks = lrpRows.flatMap((r) => r[which] === undefined ? [] : [r[which]!.hwmMb]);
    if (peaks.length > 0) {
      const peak = Math.max(...peaks);
      out.push({ target, value: `${peak.toFixed(1)} MB`, pass: peak <= limit });
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
  return out;
}

/** Verdicts as a markdown list. */
export function markdownVerdicts(list: Verdict[]): string {
  return list.map((v) => {
    const mark = v.pass === undefined ? "n/a " : v.pass ? "PASS" : "FAIL";
    return `- ${mark} ${v.target}: ${v.value}`;
  }).join("\n");
}
