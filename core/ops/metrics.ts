/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in
 * the text exposition format.
 *
 * @module
 */

type Labels = Record<string, string>;

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
export class Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly bounds: readonly number[];
  #series = new Map<string, MetricSeries>();

  constructor(
    name: string,
    help: string,
    type: "counter" | "gauge" | "histogram",
    bounds: readonly number[] = [],
  ) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.bounds = bounds;
  }

  /**
   * The series with these labels, created (and from then on rendered) on first use. Hold on
   * to it where the labels repeat on a hot path.
   */
  series(labels: Labels): MetricSeries {
    const key = JSON.stringify(labels);
    let series = this.#series.get(key);
    if (series === undefined) {
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

/** Every metric imhookd exposes. */
export class Metrics {
  readonly callbacks = new Metric(
    "imhookd_callbacks_total",
    "Callbacks answered, by command and result.",
    "counter",
  );
  readonly ackSeconds = new Metric(
    "imhookd_ack_seconds",
    "Time from request start to the answer of accepted callbacks.",
    "histogram",
    SECONDS_BUCKETS,
  );
  readonly verifyFailures = new Metric(
    "imhookd_verify_failures_total",
    "Requests that failed app or signature verification, by reason.",
    "counter",
  );
  readonly deliveries = new Metric(
    "imhookd_deliveries_total",
    "Delivery attempts, by plugin and result.",
    "counter",
  );
  readonly deliverySeconds = new Metric(
    "imhookd_delivery_seconds",
    "Time a plugin's handler took, by plugin.",
    "histogram",
    SECONDS_BUCKETS,
  );
  readonly pending = new Metric(
    "imhookd_pending",
    "Callbacks waiting for delivery, by plugin.",
    "gauge",
  );
  readonly deadLetters = new Metric(
    "imhookd_dead_letters",
    "Callbacks given up on, by plugin.",
    "gauge",
  );
  readonly inboxBacklog = new Metric(
    "imhookd_inbox_backlog",
    "Callbacks answered and stored in the journal's inbox, not yet indexed (then delivered).",
    "gauge",
  );
  readonly pluginRestarts = new Metric(
    "imhookd_plugin_restarts_total",
    "Plugins restarted on their own, by plugin and reason.",
    "counter",
  );
  readonly configReloads = new Metric(
    "imhookd_config_reloads_total",
    "Configuration reloads, by result.",
    "counter",
  );

  /** Prometheus text of every metric. */
  render(): string {
    return [
      this.callbacks,
      this.ackSeconds,
      this.verifyFailures,
      this.deliveries,
      this.deliverySeconds,
      this.pending,
      this.deadLetters,
      this.inboxBacklog,
      this.pluginRestarts,
      this.configReloads,
    ].map((metric) => metric.render()).join("\n") + "\n";
  }
}
