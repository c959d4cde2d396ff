/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in
 * the text exposition format. Every metric imhookd exposes is declared once, in
 * {@linkcode METRICS}; the delivery worker records its metrics in a {@linkcode MetricBatch}
 * that the main thread applies to its {@linkcode Metrics}.
 *
 * To add a metric: one declaration in {@linkcode METRICS} and the place that records it
 * (`metrics.KEY.inc(...)`; in the delivery engine the same, through the worker's batch).
 *
 * @module
 */

/** Label values by label name. */
export type Labels = Record<string, string>;

/** What a metric is: its Prometheus name, help, type, label names and histogram buckets. */
export interface MetricDeclaration {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** The label names every series of it has, in order. */
  readonly labels: readonly string[];
  /** The upper bounds of a histogram's buckets. */
  readonly bounds?: readonly number[];
}

/** Where metrics are recorded: the main thread's {@linkcode Metric}s, or a worker's batch. */
export interface MetricRecorder {
  /** Adds to a counter or gauge. */
  inc(labels: Labels, by?: number): void;
  /** Records one observation in a histogram. */
  observe(labels: Labels, value: number): void;
}

/** One labelled series of a {@linkcode Metric}, resolved once so hot paths skip the label lookup. */
export class MetricSeries {
  readonly labels: Labels;
  value = 0;
  /** Per-bound counts of a histogram, cumulative as Prometheus wants them. */
  readonly buckets: number[] | undefined;
  sum = 0;
  readonly #bounds: readonly number[];

  constructor(labels: Labels, bounds: readonly number[] | undefined) {
    this.labels = labels;
    this.#bounds = bounds ?? [];
    this.buckets = bounds?.map(() => 0);
  }

  /** Adds to a counter or gauge. */
  inc(by = 1): void {
    this.value += by;
  }

  /** Records one observation in a histogram. */
  observe(value: number): void {
    this.value += 1;
    this.sum += value;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) this.buckets![i]! += 1;
    }
  }
}

/** One metric family. */
export class Metric implements MetricRecorder {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labels: readonly string[];
  readonly bounds: readonly number[];
  #series = new Map<string, MetricSeries>();

  constructor(declaration: MetricDeclaration) {
    this.name = declaration.name;
    this.help = declaration.help;
    this.type = declaration.type;
    this.labels = declaration.labels;
    this.bounds = declaration.bounds ?? [];
  }

  /**
   * The series with these labels, created (and from then on rendered) on first use. Hold on
   * to it where the labels repeat on a hot path.
   */
  series(labels: Labels): MetricSeries {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
      const names = Object.keys(labels);
      if (names.length !== this.labels.length || names.some((n, i) => n !== this.labels[i])) {
        throw new TypeError(
          `Invalid labels ${JSON.stringify(labels)} of "${this.name}": expected ${
            JSON.stringify(this.labels)
          }`,
        );
      }
      series = new MetricSeries(labels, this.type === "histogram" ? this.bounds : undefined);
      this.#series.set(key, series);
    }
    return series;
  }

  /** Adds to a counter or gauge. */
  inc(labels: Labels = {}, by = 1): void {
    this.series(labels).inc(by);
  }

  /** Sets a gauge. */
  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }

  /** Records one observation in a histogram. */
  observe(labels: Labels, value: number): void {
    this.series(labels).observe(value);
  }

  /** The current value of a counter or gauge (0 when never touched). */
  value(labels: Labels = {}): number {
    return this.#series.get(JSON.stringify(labels))?.value ?? 0;
  }

  /** Every series so far: its labels and its value (a histogram's: its count). */
  entries(): { labels: Labels; value: number }[] {
    return [...this.#series.values()].map((series) => ({
      labels: series.labels,
      value: series.value,
    }));
  }

  /** Renders this family in Prometheus text format. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const series of this.#series.values()) {
      if (this.type !== "histogram") {
        lines.push(`${this.name}${formatLabels(series.labels)} ${series.value}`);
        continue;
      }
      this.bounds.forEach((bound, i) => {
        const labels = { ...series.labels, le: String(bound) };
        lines.push(`${this.name}_bucket${formatLabels(labels)} ${series.buckets![i]}`);
      });
      lines.push(
        `${this.name}_bucket${formatLabels({ ...series.labels, le: "+Inf" })} ${series.value}`,
      );
      lines.push(`${this.name}_sum${formatLabels(series.labels)} ${series.sum}`);
      lines.push(`${this.name}_count${formatLabels(series.labels)} ${series.value}`);
    }
    return lines.join("\n");
  }
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([key, value]) =>
    `${key}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")}"`
  );
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Seconds buckets from half a millisecond to half a minute. */
const SECONDS_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];

/** Every metric imhookd exposes, by the key code records it under; rendered in this order. */
export const METRICS = {
  callbacks: {
    name: "imhookd_callbacks_total",
    help: "Callbacks answered, by command and result.",
    type: "counter",
    labels: ["command", "result"],
  },
  ackSeconds: {
    name: "imhookd_ack_seconds",
    help: "Time from request start to the answer of accepted callbacks.",
    type: "histogram",
    labels: [],
    bounds: SECONDS_BUCKETS,
  },
  verifyFailures: {
    name: "imhookd_verify_failures_total",
    help: "Requests that failed app or signature verification, by reason.",
    type: "counter",
    labels: ["reason"],
  },
  deliveries: {
    name: "imhookd_deliveries_total",
    help: "Delivery attempts, by plugin and result.",
    type: "counter",
    labels: ["plugin", "result"],
  },
  deliverySeconds: {
    name: "imhookd_delivery_seconds",
    help: "Time a plugin's handler took, by plugin.",
    type: "histogram",
    labels: ["plugin"],
    bounds: SECONDS_BUCKETS,
  },
  pending: {
    name: "imhookd_pending",
    help: "Callbacks waiting for delivery, by plugin.",
    type: "gauge",
    labels: ["plugin"],
  },
  deadLetters: {
    name: "imhookd_dead_letters",
    help: "Callbacks given up on, by plugin.",
    type: "gauge",
    labels: ["plugin"],
  },
  inboxBacklog: {
    name: "imhookd_inbox_backlog",
    help: "Callbacks answered and stored in the journal's inbox, not yet indexed (then delivered).",
    type: "gauge",
    labels: [],
  },
  decisions: {
    name: "imhookd_decisions_total",
    help:
      "Decision callbacks answered, by command, verdict and what decided (plugin, fallback, none).",
    type: "counter",
    labels: ["command", "verdict", "by"],
  },
  decisionSeconds: {
    name: "imhookd_decision_seconds",
    help: "Time from receipt to the decision of decision callbacks, by command.",
    type: "histogram",
    labels: ["command"],
    bounds: SECONDS_BUCKETS,
  },
  deciderFailures: {
    name: "imhookd_decider_failures_total",
    help:
      "Deciders that failed a decision, by plugin and reason (error, timeout, invalid, skipped).",
    type: "counter",
    labels: ["plugin", "reason"],
  },
  deciderBreakerOpens: {
    name: "imhookd_decider_breaker_opens_total",
    help: "Times a decider's circuit breaker opened (it is skipped for a cool-down), by plugin.",
    type: "counter",
    labels: ["plugin"],
  },
  pluginRestarts: {
    name: "imhookd_plugin_restarts_total",
    help: "Plugins restarted on their own, by plugin and reason.",
    type: "counter",
    labels: ["plugin", "reason"],
  },
  configReloads: {
    name: "imhookd_config_reloads_total",
    help: "Configuration reloads, by result.",
    type: "counter",
    labels: ["result"],
  },
} as const satisfies Record<string, MetricDeclaration>;

/** The key of a metric of {@linkcode METRICS}. */
export type MetricKey = keyof typeof METRICS;

/**
 * Metric updates made in one thread, for {@linkcode Metrics.apply} in another: the metric,
 * the labels, and the sum to add (counters, gauges) or the observations (histograms).
 */
export type MetricUpdate = [metric: MetricKey, labels: Labels, values: number[]];

// The class gets a field per declaration at run time; this interface gives them their types.
export interface Metrics extends Readonly<Record<MetricKey, Metric>> {}

/** Every metric imhookd exposes: a {@linkcode Metric} per declaration of {@linkcode METRICS}. */
export class Metrics {
  constructor() {
    for (const [key, declaration] of Object.entries(METRICS)) {
      Object.defineProperty(this, key, { value: new Metric(declaration), enumerable: true });
    }
  }

  /** Applies the updates a {@linkcode MetricBatch} made (in the delivery worker). */
  apply(updates: readonly MetricUpdate[]): void {
    for (const [key, labels, values] of updates) {
      const metric = this[key];
      if (metric.type !== "histogram") {
        metric.inc(labels, values[0]);
        continue;
      }
      const series = metric.series(labels);
      for (const value of values) series.observe(value);
    }
  }

  /**
   * The metric exposed as `name` (`imhookd_decisions_total`), if this build declares it: for
   * readers of metrics that other parts may or may not declare.
   */
  byName(name: string): Metric | undefined {
    for (const key of Object.keys(METRICS) as MetricKey[]) {
      if (this[key].name === name) return this[key];
    }
    return undefined;
  }

  /** Prometheus text of every metric. */
  render(): string {
    return Object.keys(METRICS).map((key) => this[key as MetricKey].render()).join("\n") + "\n";
  }
}

/**
 * Metrics recorded in a thread without the registry (the delivery worker), kept for
 * {@linkcode Metrics.apply}: `recorders` has a {@linkcode MetricRecorder} per metric.
 */
export class MetricBatch {
  /** A recorder per metric, for code that records into a `Metrics` elsewhere. */
  readonly recorders: Readonly<Record<MetricKey, MetricRecorder>>;
  /**
   * Each metric's `[labels, values]` since the last `take`. A list, searched by identity
   * first: the engine reuses its labels objects and a batch holds few distinct labels, so
   * this costs less than a Map on the path that runs for every delivery.
   */
  #updates: [MetricKey, [Labels, number[]][]][] = [];
  #empty = true;

  /** `onRecord` runs after each recording (to schedule sending the batch). */
  constructor(onRecord: () => void) {
    const recorders: Partial<Record<MetricKey, MetricRecorder>> = {};
    for (const key of Object.keys(METRICS) as MetricKey[]) {
      const entries: [Labels, number[]][] = [];
      const names = METRICS[key].labels;
      this.#updates.push([key, entries]);
      const record = (labels: Labels, value: number, add: boolean): void => {
        const values = valuesOf(entries, labels, names);
        if (values === undefined) entries.push([labels, [value]]);
        else if (add) values[0]! += value;
        else values.push(value);
        this.#empty = false;
        onRecord();
      };
      recorders[key] = {
        inc: (labels, by = 1) => record(labels, by, true),
        observe: (labels, value) => record(labels, value, false),
      };
    }
    this.recorders = recorders as Record<MetricKey, MetricRecorder>;
  }

  /** Whether nothing was recorded since the last {@linkcode take}. */
  get empty(): boolean {
    return this.#empty;
  }

  /** The updates recorded since the last call, and a fresh start. */
  take(): MetricUpdate[] {
    const updates: MetricUpdate[] = [];
    if (this.#empty) return updates;
    for (const [key, entries] of this.#updates) {
      for (const [labels, values] of entries) updates.push([key, labels, values]);
      entries.length = 0;
    }
    this.#empty = true;
    return updates;
  }
}

function valuesOf(
  entries: [Labels, number[]][],
  labels: Labels,
  names: readonly string[],
): number[] | undefined {
  for (const [other, values] of entries) {
    if (other === labels) return values;
    let same = true;
    for (const name of names) {
      if (other[name] !== labels[name]) {
        same = false;
        break;
      }
    }
    if (same) return values;
  }
  return undefined;
}
