/**
 * The decision chain: asks the deciders of a decision callback, in config order, within the
 * deadline, and turns their answers (or their failures, through the command's fallback) into
 * the one decision that is journaled and answered.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type {
  CallbackEvent,
  DeciderRun,
  Decision,
  DecisionRecord,
  FriendResult,
} from "../../plugin.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { Metrics } from "../ops/metrics.ts";
import { commandLabel } from "../protocol/commands.ts";
import { type BreakerSettings, CircuitBreakers } from "./breaker.ts";
import type { DecisionRules } from "./rules.ts";
import { checkDecision } from "./validate.ts";

/** How the chain reaches the deciders (the plugin threads). */
export interface DeciderTransport {
  /** The running plugins that have a `decide`, in config order. */
  deciders(): readonly string[];
  /**
   * Calls `plugin`'s `decide` and resolves with what it returned; rejects with a printable
   * error when it throws, cannot be reached, or `signal` aborts.
   */
  decide(plugin: string, event: CallbackEvent, signal: AbortSignal): Promise<unknown>;
}

/** The `decisions` section of the config. */
export interface DecisionSettings {
  /** The whole decision's time, from receipt. */
  deadlineMs: number;
  /** What a failed decider counts as. */
  fallback: "allow" | "reject";
  /** The fallback of particular commands. */
  fallbackByCommand: Readonly<Record<string, "allow" | "reject">>;
  breaker: BreakerSettings;
}

/** Options of {@linkcode DecisionChain}. */
export interface DecisionChainOptions {
  clock?: Clock;
  metrics?: Metrics;
  logger?: Logger;
}

/** One decision callback to decide. */
export interface DecisionRequest {
  rules: DecisionRules;
  /** The callback as the deciders see it (`id` is `""`: it is not journaled yet). */
  event: CallbackEvent;
  /** The plugins whose `on` matches the command, in config order. */
  routed: readonly string[];
  /** When the callback was received, on the clock's `monotonic` scale. */
  receivedAt: number;
}

type Asked =
  | { ok: true; value: unknown }
  | { ok: false; outcome: "error" | "timeout"; error: string };

const TIMED_OUT = Symbol("timed out");
/**
 * What a decider's signal aborts with at the deadline: one object for every decision, since a
 * DOMException captures a stack when made, and a hung decider times out every decision.
 */
const DEADLINE_PASSED = new DOMException("Decision deadline passed", "TimeoutError");

/** Decides decision callbacks. */
export class DecisionChain {
  #transport: DeciderTransport;
  #settings: DecisionSettings;
  #clock: Clock;
  #metrics: Metrics | undefined;
  #logger: Logger | undefined;
  #breakers: CircuitBreakers;
  /** Deciders whose last answer failed: their next failure is logged at debug level only. */
  #failing = new Set<string>();

  constructor(
    transport: DeciderTransport,
    settings: DecisionSettings,
    options: DecisionChainOptions = {},
  ) {
    this.#transport = transport;
    this.#settings = settings;
    this.#clock = options.clock ?? systemClock;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#breakers = new CircuitBreakers(settings.breaker, this.#clock, {
      opened: (plugin, failures) => {
        this.#metrics?.deciderBreakerOpens.inc({ plugin });
        this.#logger?.warn(
          "Decider {plugin} failed {failures} times in a row: skipped for {cooldownMs}ms, its decisions fall back",
          { plugin, failures, cooldownMs: this.#settings.breaker.cooldownMs },
        );
      },
      closed: (plugin) => {
        this.#logger?.info("Decider {plugin} answers again: no longer skipped", { plugin });
      },
    });
  }

  /** Takes the settings of a reloaded config. */
  set settings(settings: DecisionSettings) {
    this.#settings = settings;
    this.#breakers.settings = settings.breaker;
    this.#breakers.retain(this.#transport.deciders());
  }

  /** The verdict a failed decider counts as on `command`. */
  fallbackOf(command: string): "allow" | "reject" {
    return Object.hasOwn(this.#settings.fallbackByCommand, command)
      ? this.#settings.fallbackByCommand[command]!
      : this.#settings.fallback;
  }

  /**
   * The command's fallback decision, for a callback no decider may see (its payload breaks
   * the command's schema), counted like any other.
   */
  fallback(rules: DecisionRules, reason: string, receivedAt: number): DecisionRecord {
    const record = this.#fallbackRecord(rules, [reason], [], receivedAt, {});
    this.#count(rules.command, record);
    return record;
  }

  /** Asks the deciders routed to the callback and returns the decision. Never throws. */
  async decide(request: DecisionRequest): Promise<DecisionRecord> {
    const { rules, receivedAt } = request;
    const routed = request.routed;
    const deciders = routed.length === 0
      ? []
      : this.#transport.deciders().filter((name) => routed.includes(name));
    const fallback = this.fallbackOf(rules.command);
    const deadline = receivedAt + this.#settings.deadlineMs;
    const runs: DeciderRun[] = [];
    const failures: string[] = [];
    const allowed: Allowed = {};
    let payload = request.event.payload;
    let by: string | undefined;
    let final: Decision | undefined;
    for (const plugin of deciders) {
      const failure = this.#skip(plugin, deadline);
      if (failure !== undefined) {
        runs.push({ plugin, outcome: "skipped", ms: 0, error: failure });
      } else {
        const started = this.#clock.monotonic();
        const event = payload === request.event.payload
          ? request.event
          : { ...request.event, payload };
        const asked = await this.#ask(plugin, event, deadline - started);
        const ms = round(this.#clock.monotonic() - started);
        let decision: Decision | undefined;
        let invalid: string | undefined;
        if (asked.ok) {
          try {
            decision = checkDecision(rules, asked.value);
          } catch (error) {
            invalid = (error as Error).message;
          }
        }
        if (asked.ok && invalid === undefined) {
          this.#succeeded(plugin);
          runs.push({ plugin, outcome: decision?.verdict ?? "none", ms });
          if (decision === undefined) continue;
          by = plugin;
          if (decision.verdict !== "allow") {
            final = decision;
            break;
          }
          payload = merge(allowed, decision, payload);
          continue;
        }
        const outcome = asked.ok ? "invalid" : asked.outcome;
        const error = asked.ok ? invalid! : asked.error;
        runs.push({ plugin, outcome, ms, error });
        this.#failed(plugin, outcome, error);
      }
      failures.push(`"${plugin}" ${runs.at(-1)!.error}`);
      if (fallback === "reject") break;
    }
    let record: DecisionRecord;
    if (final !== undefined) {
      record = {
        verdict: final.verdict,
        ...(final.code !== undefined ? { code: final.code } : {}),
        ...(final.info !== undefined ? { info: final.info } : {}),
        by: by!,
        replaced: false,
        deciders: runs,
        ms: round(this.#clock.monotonic() - receivedAt),
      };
    } else if (failures.length > 0) {
      record = this.#fallbackRecord(rules, failures, runs, receivedAt, allowed);
    } else {
      record = allowRecord(by ?? "none", allowed, runs, this.#clock.monotonic() - receivedAt);
    }
    this.#count(rules.command, record);
    return record;
  }

  /** Why `plugin` is not asked, or undefined if it is. */
  #skip(plugin: string, deadline: number): string | undefined {
    if (this.#clock.monotonic() >= deadline) {
      this.#metrics?.deciderFailures.inc({ plugin, reason: "skipped" });
      return `was not asked: the deadline (${this.#settings.deadlineMs}ms) had passed`;
    }
    if (!this.#breakers.allow(plugin)) {
      this.#metrics?.deciderFailures.inc({ plugin, reason: "skipped" });
      return "was skipped: it failed too often (its circuit breaker is open)";
    }
    return undefined;
  }

  async #ask(plugin: string, event: CallbackEvent, remainingMs: number): Promise<Asked> {
    const controller = new AbortController();
    let cancel: (() => void) | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      cancel = this.#clock.setTimeout(() => resolve(TIMED_OUT), remainingMs);
    });
    try {
      const call = this.#transport.decide(plugin, event, controller.signal);
      // Settles unobserved after a timeout: its rejection then is no longer news.
      call.catch(() => {});
      const value = await Promise.race([call, timeout]);
      if (value !== TIMED_OUT) return { ok: true, value };
      const error = `did not answer within the deadline (${this.#settings.deadlineMs}ms)`;
      controller.abort(DEADLINE_PASSED);
      return { ok: false, outcome: "timeout", error };
    } catch (error) {
      return { ok: false, outcome: "error", error: `failed: ${describe(error)}` };
    } finally {
      cancel?.();
    }
  }

  #succeeded(plugin: string): void {
    this.#breakers.succeeded(plugin);
    this.#failing.delete(plugin);
  }

  #failed(plugin: string, reason: "error" | "timeout" | "invalid", error: string): void {
    this.#metrics?.deciderFailures.inc({ plugin, reason });
    this.#breakers.failed(plugin);
    // Once per run of failures at warning level: a hung decider fails every callback.
    const first = !this.#failing.has(plugin);
    this.#failing.add(plugin);
    const message = "Decider {plugin} {error}; the fallback decides";
    if (first) this.#logger?.warn(message, { plugin, error });
    else this.#logger?.debug(message, { plugin, error });
  }

  #fallbackRecord(
    rules: DecisionRules,
    failures: string[],
    runs: DeciderRun[],
    receivedAt: number,
    allowed: Allowed,
  ): DecisionRecord {
    const ms = this.#clock.monotonic() - receivedAt;
    const reason = failures.join("; ");
    if (this.fallbackOf(rules.command) === "allow") {
      return { ...allowRecord("fallback", allowed, runs, ms), reason };
    }
    return {
      verdict: "reject",
      code: rules.defaultCode,
      by: "fallback",
      reason,
      replaced: false,
      deciders: runs,
      ms: round(ms),
    };
  }

  #count(command: string, record: DecisionRecord): void {
    const metrics = this.#metrics;
    if (metrics === undefined) return;
    const label = commandLabel(command);
    const by = record.by === "fallback" || record.by === "none" ? record.by : "plugin";
    metrics.decisions.inc({ command: label, verdict: record.verdict, by });
    metrics.decisionSeconds.observe({ command: label }, record.ms / 1000);
  }
}

/** What the allows so far add to the answer. */
interface Allowed {
  replace?: NonNullable<Decision["replace"]>;
  refused?: Set<string>;
  friends?: Map<string, FriendResult>;
}

/**
 * Adds an allow's replacements, refusals and friend results to `allowed`; returns the payload
 * the next decider sees.
 */
function merge(
  allowed: Allowed,
  decision: Decision,
  payload: CallbackEvent["payload"],
): CallbackEvent["payload"] {
  if (decision.refuseMembers !== undefined) {
    allowed.refused ??= new Set();
    for (const account of decision.refuseMembers) allowed.refused.add(account);
  }
  if (decision.friendResults !== undefined) {
    allowed.friends ??= new Map();
    for (const result of decision.friendResults) {
      const before = allowed.friends.get(result.To_Account);
      // A refusal wins: a later allow does not undo an earlier refusal.
      if (before === undefined || before.ResultCode === 0) {
        allowed.friends.set(result.To_Account, result);
      }
    }
  }
  const replace = decision.replace;
  if (replace === undefined || Object.keys(replace).length === 0) return payload;
  allowed.replace = { ...allowed.replace, ...replace };
  return { ...payload, ...replace };
}

function allowRecord(
  by: string,
  allowed: Allowed,
  runs: DeciderRun[],
  ms: number,
): DecisionRecord {
  const replaced = allowed.replace !== undefined;
  return {
    verdict: "allow",
    by,
    replaced,
    ...(replaced ? { replace: allowed.replace! } : {}),
    ...(allowed.refused !== undefined ? { refuseMembers: [...allowed.refused] } : {}),
    ...(allowed.friends !== undefined ? { friendResults: [...allowed.friends.values()] } : {}),
    deciders: runs,
    ms: round(ms),
  };
}

/** Milliseconds to a tenth, as stored. */
function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** A transport's error as it says it (its message already names what the decider threw). */
function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}
