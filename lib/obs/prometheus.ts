/**
 * A small Prometheus registry of counters, gauges and histograms that renders
 * the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * Written here rather than taken from `prom-client`, which needs Node's
 * `cluster`/`v8` internals and pulls in more code than lrp has; the format is
 * small.
 *
 * @module
 */

/** The `Content-Type` of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label names to values. */
export type Labels = Record<string, string>;

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Latency buckets in seconds, from 1 ms to 60 s. */
export const LATENCY_BUCKETS: readonly number[] = SECONDS;

/**
 * Escapes a label value: backslash, double quote and line feed, the three
 * characters the format escapes inside quotes.
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Escapes `# HELP` text: backslash and line feed only (quotes stay). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/**
 * Formats a sample value: `+Inf`, `-Inf`, `NaN` as the format spells them,
 * fractions to 15 significant digits.
 */
export function formatValue(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isNaN(n)) return "NaN";
  // Sums of fractional seconds pick up binary noise (0.1 + 0.2 = 0.30000000000000004);
  // 15 significant digits drop it and keep far more precision than any latency has.
  if (!Number.isInteger(n)) return String(Number(n.toPrecision(15)));
  return String(n);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? "")}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME.test(name)) throw new TypeError(`Cannot register metric: invalid name "${name}"`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith("__") || l === "le") {
        throw new TypeError(`Cannot register metric ${name}: invalid label name "${l}"`);
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The series key of a label set: each value length-prefixed, so no two sets share one (no JSON per update). */
  protected key(labels: Labels): { key: string; values: string[] } {
    return { key: this.seriesKey(labels), values: this.labelNames.map((n) => labels[n]!) };
  }

  /** {@linkcode Metric.key}'s key alone: what an update of an existing series needs. */
  protected seriesKey(labels: Labels): string {
    const names = this.labelNames;
    let key = "";
    for (let i = 0; i < names.length; i++) {
      const v = labels[names[i]!];
      if (v === undefined) throw new TypeError(`Cannot record ${this.name}: missing label "${names[i]}"`);
      key += `${v.length}:${v}`;
    }
    return key;
  }

  abstract samples(): string[];

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    lines.push(...this.samples());
    return lines.join("\n") + "\n";
  }
}

/** A metric holding one number per label set: what counters and gauges share. */
abstract class ValueMetric extends Metric {
  protected series = new Map<string, { values: string[]; value: number }>();

  /** Adds `by` to the series of `labels`. */
  protected addTo(labels: Labels, by: number): void {
    const key = this.seriesKey(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { values: this.key(labels).values, value: by });
  }

  /** The current value of one series (0 when never recorded). */
  get(labels: Labels = {}): number {
    return this.series.get(this.seriesKey(labels))?.value ?? 0;
  }

  samples(): string[] {
    return [...this.series.values()].map((s) =>
      `${this.name}${renderLabels(this.labelNames, s.values)} ${formatValue(s.value)}`
    );
  }
}

/** A value per label set that only goes up. */
export class Counter extends ValueMetric {
  readonly type = "counter";
  #collect: ((c: { set(labels: Labels, total: number): void }) => void) | undefined;

  /** Creates a counter; `collect`, when given, sets its totals (counted elsewhere) at each scrape. */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    collect?: (c: { set(labels: Labels, total: number): void }) => void,
  ) {
    super(name, help, labelNames);
    this.#collect = collect;
  }

  override samples(): string[] {
    if (this.#collect) {
      this.#collect({
        set: (labels, total) => {
          const { key, values } = this.key(labels);
          this.series.set(key, { values, value: total });
        },
      });
    }
    return super.samples();
  }

  /** Adds `by` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`Cannot increase ${this.name} by ${by}`);
    this.addTo(labels, by);
  }
}

/** A value per label set that goes up and down, or is read when scraped. */
export class Gauge extends ValueMetric {
  readonly type = "gauge";
  #collect: ((gauge: Gauge) => void) | undefined;

  /** Creates a gauge; `collect`, when given, sets the values at each scrape. */
  constructor(name: string, help: string, labelNames: readonly string[], collect?: (gauge: Gauge) => void) {
    super(name, help, labelNames);
    this.#collect = collect;
  }

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels, value: number): void {
    const { key, values } = this.key(labels);
    this.series.set(key, { values, value });
  }

  /** Adds `by` (may be negative). */
  add(labels: Labels, by: number): void {
    this.addTo(labels, by);
  }

  override samples(): string[] {
    if (this.#collect) {
      this.series.clear();
      this.#collect(this);
    }
    return super.samples();
  }
}

/**
 * Observations counted into cumulative buckets: rendered as
 * `_bucket{le="…"}` (one per bound, then `+Inf`), `_sum` and `_count`.
 */
export class Histogram extends Metric {
  readonly type = "histogram";
  readonly buckets: readonly number[];
  #series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();

  /** Creates a histogram over increasing upper bounds. */
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) {
        throw new RangeError(`Cannot register ${name}: buckets must increase`);
      }
    }
    this.buckets = buckets.filter((b) => b !== Infinity);
  }

  /** Records one observation. */
  observe(labels: Labels, value: number): void {
    const key = this.seriesKey(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { values: this.key(labels).values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && !(value <= buckets[i]!)) i++;
    if (i < buckets.length) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** Count and sum of one series. */
  get(labels: Labels = {}): { count: number; sum: number } {
    const s = this.#series.get(this.seriesKey(labels));
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  samples(): string[] {
    const out: string[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i]!;
        out.push(
          `${this.name}_bucket${
            renderLabels(this.labelNames, s.values, ["le", formatValue(b)])
          } ${cumulative}`,
        );
      });
      out.push(`${this.name}_bucket${renderLabels(this.labelNames, s.values, ["le", "+Inf"])} ${s.count}`);
      out.push(`${this.name}_sum${renderLabels(this.labelNames, s.values)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${renderLabels(this.labelNames, s.values)} ${s.count}`);
    }
    return out;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  #metrics = new Map<string, Metric>();

  #add<M extends Metric>(m: M): M {
    if (this.#metrics.has(m.name)) throw new TypeError(`Cannot register metric: "${m.name}" exists`);
    this.#metrics.set(m.name, m);
    return m;
  }

  /** Registers a counter; `collect`, when given, sets its values (totals kept elsewhere) at each scrape. */
  counter(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    collect?: (c: { set(labels: Labels, total: number): void }) => void,
  ): Counter {
    return this.#add(new Counter(name, help, labelNames, collect));
  }

  /** Registers a gauge; `collect` sets its values at each scrape. */
  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (g: Gauge) => void): Gauge {
    return this.#add(new Gauge(name, help, labelNames, collect));
  }

  /** Registers a histogram. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = LATENCY_BUCKETS,
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** The whole registry in the text exposition format. */
  render(): string {
    return [...this.#metrics.values()].map((m) => m.render()).join("");
  }
}
