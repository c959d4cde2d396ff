/**
 * Circuit breakers for deciders: one that keeps failing (throwing, answering past the
 * deadline, answering nonsense) is skipped for a cool-down, so the callbacks meanwhile get
 * the fallback at once instead of each waiting out the deadline.
 *
 * @module
 */
import type { Clock } from "../clock.ts";

/** When a breaker opens, and for how long. */
export interface BreakerSettings {
  /** Failures in a row that open the breaker; 0 never opens it. */
  failures: number;
  /** How long an open breaker skips its decider before one call may try it again. */
  cooldownMs: number;
}

/** What a breaker reports as it opens and closes (for logs and metrics). */
export interface BreakerEvents {
  opened(plugin: string, failures: number): void;
  closed(plugin: string): void;
}

interface State {
  /** Failures in a row. */
  failures: number;
  /** Open until then (monotonic ms); undefined while closed. */
  openUntil: number | undefined;
  /** A call past the cool-down is trying the decider: the others still skip it. */
  probing: boolean;
}

/**
 * One breaker per decider. Closed, every call goes through; after `failures` failures in a
 * row it opens and calls are skipped; once `cooldownMs` has passed, one call goes through:
 * a success closes the breaker, a failure opens it for another cool-down.
 */
export class CircuitBreakers {
  #settings: BreakerSettings;
  #clock: Clock;
  #events: BreakerEvents;
  #states = new Map<string, State>();

  constructor(settings: BreakerSettings, clock: Clock, events: BreakerEvents) {
    this.#settings = settings;
    this.#clock = clock;
    this.#events = events;
  }

  /** Takes new settings (a reload); open breakers stay open until their cool-down ends. */
  set settings(settings: BreakerSettings) {
    this.#settings = settings;
  }

  /** Whether `plugin` may be asked now (false: skip it). */
  allow(plugin: string): boolean {
    const state = this.#states.get(plugin);
    if (state?.openUntil === undefined) return true;
    if (state.probing || this.#clock.monotonic() < state.openUntil) return false;
    state.probing = true;
    return true;
  }

  /** `plugin` answered (anything valid). */
  succeeded(plugin: string): void {
    const state = this.#states.get(plugin);
    if (state === undefined) return;
    this.#states.delete(plugin);
    if (state.openUntil !== undefined) this.#events.closed(plugin);
  }

  /** `plugin` failed. */
  failed(plugin: string): void {
    let state = this.#states.get(plugin);
    if (state === undefined) {
      state = { failures: 0, openUntil: undefined, probing: false };
      this.#states.set(plugin, state);
    }
    state.failures++;
    const { failures, cooldownMs } = this.#settings;
    if (state.openUntil !== undefined) {
      // Calls that were under way when it opened fail too: only the probe opens it again.
      if (!state.probing) return;
      state.probing = false;
      state.openUntil = this.#clock.monotonic() + cooldownMs;
      return;
    }
    if (failures > 0 && state.failures >= failures) {
      state.openUntil = this.#clock.monotonic() + cooldownMs;
      this.#events.opened(plugin, state.failures);
    }
  }

  /** Forgets plugins that are no longer configured. */
  retain(plugins: readonly string[]): void {
    const keep = new Set(plugins);
    for (const plugin of this.#states.keys()) if (!keep.has(plugin)) this.#states.delete(plugin);
  }
}
