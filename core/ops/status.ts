/**
 * The figures of the admin status page (`GET /status.json`, drawn by `GET /`): callbacks per
 * second by command and result, decisions by verdict, per plugin its pending deliveries, lag,
 * dead letters, restarts and last error, and the recent dead letters. They are the figures
 * of `/metrics` and `imhookd status`: the counters sampled every few seconds for the rates,
 * the journal's counts, and a read-only journal connection for the errors.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import type { DeadLetter, JournalStatus, PluginError } from "../journal/mod.ts";
import { JournalReader } from "../journal/mod.ts";
import type { Labels, Metric, Metrics } from "./metrics.ts";

/** Counters the page shows rates of, by their exposed names. */
const CALLBACKS = "imhookd_callbacks_total";
const DECISIONS = "imhookd_decisions_total";
const DELIVERIES = "imhookd_deliveries_total";
const RESTARTS = "imhookd_plugin_restarts_total";
const RATED = [CALLBACKS, DECISIONS, DELIVERIES] as const;

/** A rate: a counter series' total and its increase per second over the recent window. */
export interface Rate {
  labels: Labels;
  total: number;
  perSecond: number;
}

/** Rates of one counter over time, for a chart: one line per value of a label. */
export interface RateSeries {
  /** The end of each interval (ms since the epoch). */
  times: number[];
  /** Per label value, its rate in each interval. */
  lines: { name: string; values: number[] }[];
}

/** One plugin's state. */
export interface PluginFigures {
  name: string;
  pending: number;
  /** Age of its oldest pending delivery, in ms; null when nothing is pending. */
  lagMs: number | null;
  dead: number;
  /** Restarts of its thread or process; null when this build does not count them. */
  restarts: number | null;
  deliveredPerSecond: number;
  failedPerSecond: number;
  lastError: PluginError | null;
}

/** What `GET /status.json` answers. */
export interface StatusSnapshot {
  version: string;
  now: number;
  startedAt: number;
  /** The reasons the daemon is not ready (as `/readyz`); empty when ready. */
  problems: string[];
  /** The window the `perSecond` figures are measured over, in seconds. */
  windowSeconds: number;
  journal: { callbacks: number; quarantined: number; bytes: number; inbox: number } | null;
  callbacks: Rate[];
  /** Callbacks per second by result. */
  callbacksChart: RateSeries;
  /** Null when this build has no decisions metric. */
  decisions: Rate[] | null;
  /** Decisions per second by verdict; null as `decisions`. */
  decisionsChart: RateSeries | null;
  plugins: PluginFigures[];
  /** The newest dead letters, with their errors. */
  deadLetters: DeadLetter[];
}

/** Options of {@linkcode StatusBoard}. */
export interface StatusBoardOptions {
  metrics: Metrics;
  /** The journal, read through a connection of the board's own (opened on first use). */
  journalPath: string;
  /** The plugins being delivered to. */
  plugins(): readonly string[];
  /** Reasons the daemon is not ready (as `/readyz`). */
  problems(): readonly string[];
  /** How often the counters are sampled. Default 5 s. */
  sampleEveryMs?: number;
  /** How long samples are kept (the charts' span). Default 10 min. */
  keepMs?: number;
  /** The window of the `perSecond` figures. Default 60 s. */
  windowMs?: number;
  /** Dead letters listed. Default 10. */
  deadLetters?: number;
  /** For tests; default `Date.now`. With it, no timer samples: call {@linkcode sample}. */
  now?: () => number;
}

/** The counters' values at a time, by metric name and labels. */
interface Sample {
  t: number;
  values: Map<string, Map<string, number>>;
}

/** Samples the counters and answers {@linkcode StatusSnapshot}s; `close()` when done. */
export class StatusBoard {
  #options: StatusBoardOptions;
  #now: () => number;
  #startedAt: number;
  #samples: Sample[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #reader: JournalReader | undefined;

  constructor(options: StatusBoardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.sample();
    if (options.now === undefined) {
      const timer = setInterval(() => this.sample(), options.sampleEveryMs ?? 5_000);
      // Sampling never keeps the process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
  }

  /** Records the counters now, and forgets the samples older than `keepMs`. */
  sample(): void {
    const t = this.#now();
    this.#samples.push(this.#read(t));
    const keep = this.#options.keepMs ?? 600_000;
    while (this.#samples.length > 2 && this.#samples[0]!.t < t - keep) this.#samples.shift();
  }

  /** The page's figures now; `status` is the journal's counts (undefined if unreadable). */
  snapshot(status: JournalStatus | undefined): StatusSnapshot {
    const now = this.#read(this.#now());
    const windowMs = this.#options.windowMs ?? 60_000;
    // The newest sample at least `windowMs` old, else the oldest: the rates' baseline.
    const base = this.#samples.findLast((s) => s.t <= now.t - windowMs) ?? this.#samples[0]!;
    const seconds = Math.max((now.t - base.t) / 1000, 0.001);
    const rates = (name: string): Rate[] =>
      [...(now.values.get(name) ?? new Map<string, number>())].map(([key, total]) => ({
        labels: JSON.parse(key) as Labels,
        total,
        perSecond: (total - (base.values.get(name)?.get(key) ?? 0)) / seconds,
      }));
    const metrics = this.#options.metrics;
    const hasDecisions = metrics.byName(DECISIONS) !== undefined;
    const deliveries = rates(DELIVERIES);
    const restarts = metrics.byName(RESTARTS);
    const { errors, letters } = this.#journalReads();
    const names = [
      ...new Set([...this.#options.plugins(), ...(status?.plugins ?? []).map((p) => p.plugin)]),
    ];
    return {
      version: denoJson.version,
      now: now.t,
      startedAt: this.#startedAt,
      problems: [...this.#options.problems()],
      windowSeconds: Math.round(seconds),
      journal: status === undefined ? null : {
        callbacks: status.callbacks,
        quarantined: status.quarantined,
        bytes: status.bytes,
        inbox: status.inbox.records,
      },
      callbacks: rates(CALLBACKS),
      callbacksChart: this.#chart(now, CALLBACKS, "result"),
      decisions: hasDecisions ? rates(DECISIONS) : null,
      decisionsChart: hasDecisions ? this.#chart(now, DECISIONS, "verdict") : null,
      plugins: names.map((name) => {
        const counts = status?.plugins.find((p) => p.plugin === name);
        const rate = (result: string): number =>
          deliveries.find((d) => d.labels.plugin === name && d.labels.result === result)
            ?.perSecond ?? 0;
        return {
          name,
          pending: counts?.pending ?? 0,
          lagMs: counts?.oldestPendingAt != null ? now.t - counts.oldestPendingAt : null,
          dead: counts?.dead ?? 0,
          restarts: restarts === undefined ? null : sum(restarts, { plugin: name }),
          deliveredPerSecond: rate("ok"),
          failedPerSecond: rate("retry") + rate("dead"),
          lastError: errors.find((e) => e.plugin === name) ?? null,
        };
      }),
      deadLetters: letters,
    };
  }

  /** Stops sampling and closes the journal connection. */
  close(): void {
    clearInterval(this.#timer);
    this.#reader?.close();
    this.#reader = undefined;
  }

  #read(t: number): Sample {
    const values = new Map<string, Map<string, number>>();
    for (const name of RATED) {
      const metric = this.#options.metrics.byName(name);
      if (metric === undefined) continue;
      values.set(
        name,
        new Map(metric.entries().map((e) => [JSON.stringify(e.labels), e.value])),
      );
    }
    return { t, values };
  }

  /** Rates of `name` summed by `label`, per sampling interval and up to now. */
  #chart(now: Sample, name: string, label: string): RateSeries {
    const points = [...this.#samples, now];
    const byValue = (sample: Sample): Map<string, number> => {
      const totals = new Map<string, number>();
      for (const [key, value] of sample.values.get(name) ?? []) {
        const labelValue = (JSON.parse(key) as Labels)[label] ?? "";
        totals.set(labelValue, (totals.get(labelValue) ?? 0) + value);
      }
      return totals;
    };
    const totals = points.map(byValue);
    const names = [...new Set(totals.flatMap((t) => [...t.keys()]))].sort();
    const times: number[] = [];
    const lines = names.map((name) => ({ name, values: [] as number[] }));
    for (let i = 1; i < points.length; i++) {
      const seconds = (points[i]!.t - points[i - 1]!.t) / 1000;
      if (seconds <= 0) continue;
      times.push(points[i]!.t);
      lines.forEach((line) => {
        const delta = (totals[i]!.get(line.name) ?? 0) - (totals[i - 1]!.get(line.name) ?? 0);
        line.values.push(Math.max(0, delta) / seconds);
      });
    }
    return { times, lines };
  }

  /** Each plugin's last error and the newest dead letters; none while the journal is busy. */
  #journalReads(): { errors: PluginError[]; letters: DeadLetter[] } {
    try {
      // The writer creates the journal: a reader opened before it would create an empty one.
      if (this.#reader === undefined) Deno.statSync(this.#options.journalPath);
      this.#reader ??= JournalReader.open(this.#options.journalPath, { busyTimeoutMs: 100 });
      return {
        errors: this.#reader.lastErrors(),
        letters: this.#reader.deadLetters({ limit: this.#options.deadLetters ?? 10 }),
      };
    } catch {
      // A locked or closing journal: the page shows the counts alone; /readyz says why.
      return { errors: [], letters: [] };
    }
  }
}

/** The sum of a counter's series whose labels include `match`. */
function sum(metric: Metric, match: Labels): number {
  return metric.entries()
    .filter((e) => Object.entries(match).every(([key, value]) => e.labels[key] === value))
    .reduce((total, e) => total + e.value, 0);
}
