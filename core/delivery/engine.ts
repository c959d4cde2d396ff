/**
 * The delivery engine: hands every pending journaled callback to its plugin, each plugin at
 * its own pace, one at a time per group in journal order, with retries, backoff and dead
 * letters. Progress lives in the journal, so a restart resumes where the last run stopped.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import type { DeliveryJournal, DeliveryOptions, DeliveryTarget } from "./delivery_types.ts";
import { PluginLane } from "./lane.ts";

export type {
  DeliveryJournal,
  DeliveryMetrics,
  DeliveryOptions,
  DeliveryTarget,
  RemoteInstance,
} from "./delivery_types.ts";
/** Runs one lane per plugin. Close it to stop handing out callbacks. */
export class Delivery {
  #journal: DeliveryJournal;
  #options: Required<Omit<DeliveryOptions, "metrics" | "logger">> & DeliveryOptions;
  #lanes = new Map<string, PluginLane>();
  #unsubscribe: () => void;
  #cancelPoll: () => void = () => {};
  #generation: number;

  constructor(journal: DeliveryJournal, options: DeliveryOptions) {
    this.#journal = journal;
    this.#options = {
      clock: systemClock,
      random: Math.random,
      window: 512,
      replayPollMs: 1000,
      ...options,
      groupWindow: options.groupWindow ??
        Math.max(1, Math.floor((options.window ?? 512) / 8)),
    };
    this.#unsubscribe = journal.onAppend(() => this.wake());
    this.#generation = journal.replayGeneration();
    this.#pollReplays();
  }

  /** Starts delivering the pending callbacks of `target`. */
  add(target: DeliveryTarget): void {
    if (this.#lanes.has(target.name)) {
      throw new RangeError(`Cannot add plugin "${target.name}": it is already delivering`);
    }
    const lane = new PluginLane(this.#journal, target, this.#options);
    this.#lanes.set(target.name, lane);
    lane.pump();
  }

  /**
   * Stops delivering to `name`: waits up to `graceMs` for running handlers, then aborts them.
   * Its pending callbacks stay pending in the journal.
   */
  async remove(name: string, graceMs: number): Promise<void> {
    const lane = this.#lanes.get(name);
    if (lane === undefined) return;
    this.#lanes.delete(name);
    await lane.stop(graceMs);
  }

  /**
   * The attempts made so far of callback `id` to plugin `name`, when the engine holds it
   * waiting (for its turn or its retry); undefined otherwise.
   */
  attempts(name: string, id: number): number | undefined {
    return this.#lanes.get(name)?.attempts(id);
  }

  /** The names of the plugins being delivered to. */
  get plugins(): string[] {
    return [...this.#lanes.keys()];
  }

  /** Looks for new pending deliveries now. */
  wake(): void {
    for (const lane of this.#lanes.values()) lane.wake();
  }

  /** Stops every lane (see {@linkcode Delivery.remove}). */
  async close(graceMs: number): Promise<void> {
    this.#unsubscribe();
    this.#cancelPoll();
    await Promise.all([...this.#lanes.keys()].map((name) => this.remove(name, graceMs)));
  }

  #pollReplays(): void {
    this.#cancelPoll = this.#options.clock.setTimeout(() => {
      try {
        const generation = this.#journal.replayGeneration();
        if (generation !== this.#generation) {
          this.#generation = generation;
          for (const lane of this.#lanes.values()) lane.rescan();
        }
      } catch (error) {
        this.#options.logger?.warn("Cannot read the replay generation: {error}", { error });
      }
      this.#pollReplays();
    }, this.#options.replayPollMs);
  }
}
