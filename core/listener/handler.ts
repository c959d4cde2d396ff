/**
 * The callback listener's request handler: checks a request in a fixed order (path, method,
 * app, signature, size, JSON, schema), journals it, and answers only after the commit.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { CallbackEvent, DecisionRecord } from "../../plugin.ts";
import { type Clock, systemClock } from "../clock.ts";
import {
  type AppendResult,
  type CallbackRecord,
  JournalUnavailableError,
  type JournalWriter,
} from "../journal/mod.ts";
import type { DecisionChain } from "../decisions/chain.ts";
import { tencentAnswer } from "../decisions/answer.ts";
import { type DecisionRules, decisionRules } from "../decisions/rules.ts";
import type { Metrics, MetricSeries } from "../ops/metrics.ts";
import { commandLabel } from "../protocol/commands.ts";
import { groupKey, naturalKey } from "../protocol/keys.ts";
import { checkBodyCommand, validatePayload } from "../protocol/validate.ts";
import type { Router } from "../config/router.ts";
import { Deadlines } from "./_deadlines.ts";
import { BodyReader } from "./_body.ts";
import { answer, JSON_HEADERS, Rejection } from "./_rejection.ts";

export type { CallbackResult } from "./_rejection.ts";
import {
  type CallbackQuery,
  isPlainPath,
  parseQuery,
  queryFromParams,
  queryWithoutSign,
  splitUrl,
} from "./query.ts";
import { type VerifiedApp, verifyRequest } from "./verify.ts";

/** What a reload may swap while the listener keeps running. */
export interface ServerState {
  apps: ReadonlyMap<string, VerifiedApp>;
  router: Router;
}

/** Options of {@linkcode CallbackHandler}. */
export interface CallbackHandlerOptions {
  path: string;
  maxBodyBytes: number;
  maxInFlight: number;
  journal: JournalWriter;
  state: ServerState;
  metrics?: Metrics;
  logger?: Logger;
  clock?: Clock;
  /** How long a client may take to send its body. Default 10 000 ms. */
  bodyTimeoutMs?: number;
  /**
   * Decides decision callbacks (`.CallbackBefore*`, `.CallbackPrev*`) before they are
   * journaled; without it they are allowed.
   */
  decisions?: DecisionChain;
}

const OK_BODY = JSON.stringify({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
/** One decoder for every request: decoding without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** How an accepted callback was stored, and the answer's body. */
interface Accepted {
  result: "ok" | "duplicate" | "deferred";
  answer: string;
}

/**
 * Where a request came from, as the HTTP server says; given only by a server whose parser
 * never hands over more body than a `Content-Length` it accepted (such a body is read whole).
 */
export type ClientInfo = Pick<Deno.ServeHandlerInfo, "remoteAddr">;

/** Handles requests to the callback listener. */
export class CallbackHandler {
  #options: CallbackHandlerOptions & { clock: Clock; bodyTimeoutMs: number };
  #inFlight = 0;
  #closing = false;
  #deadlines: Deadlines;
  #body: BodyReader;
  /** Whether the configured path is one `new URL` leaves as it is, so raw paths can match it. */
  #plainPath: boolean;
  /** The last `scheme://authority` that `new URL` accepted; later URLs with it skip `new URL`. */
  #knownOrigin: string | undefined;
  /** `imhookd_callbacks_total` series of accepted callbacks, by command label. */
  #accepted = new Map<string, { ok?: MetricSeries; duplicate?: MetricSeries }>();
  #ackSeconds: MetricSeries | undefined;

  constructor(options: CallbackHandlerOptions) {
    this.#options = { clock: systemClock, bodyTimeoutMs: 10_000, ...options };
    this.#deadlines = new Deadlines(this.#options.clock, this.#options.bodyTimeoutMs);
    this.#body = new BodyReader(this.#options, this.#deadlines);
    this.#plainPath = isPlainPath(options.path);
  }

  /** Replaces apps and routes atomically (config reload). */
  set state(state: ServerState) {
    this.#options.state = state;
  }

  get state(): ServerState {
    return this.#options.state;
  }

  /** Requests being read or waiting for their commit. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Counts callbacks that were answered before they were indexed, now that they are. */
  indexed = (records: readonly CallbackRecord[], results: readonly AppendResult[]): void => {
    if (this.#options.metrics === undefined) return;
    for (let i = 0; i < records.length; i++) {
      this.#series(records[i]!.command, results[i]!.duplicate ? "duplicate" : "ok").inc();
    }
  };

  /** From now on, answer 503: the daemon is shutting down. */
  close(): void {
    this.#closing = true;
    this.#deadlines.close();
  }

  /** The `Deno.serve` handler. */
  handle = async (request: Request, info?: ClientInfo): Promise<Response> => {
    const started = performance.now();
    const receipt = this.#options.clock.monotonic();
    const query = this.#query(request.url);
    if (query instanceof Rejection) return answer(query);
    if (request.method !== "POST") {
      return answer(
        new Rejection(405, undefined, `Method ${request.method} is not allowed; use POST`, {
          allow: "POST",
        }),
      );
    }
    const command = query.command;
    if (this.#closing) {
      return this.#reject(command, new Rejection(503, "unavailable", "imhookd is shutting down"));
    }
    if (this.#inFlight >= this.#options.maxInFlight) {
      return this.#reject(
        command,
        new Rejection(429, "overloaded", `Over max_in_flight (${this.#options.maxInFlight})`, {
          "retry-after": "1",
        }),
      );
    }
    this.#inFlight++;
    try {
      const accepted = await this.#accept(request, query, info, receipt);
      if (this.#options.metrics !== undefined) this.#count(command, accepted.result, started);
      return new Response(accepted.answer, { headers: JSON_HEADERS });
    } catch (error) {
      if (error instanceof Rejection) return this.#reject(command, error);
      throw error;
    } finally {
      this.#inFlight--;
    }
  };

  /** The query of a request to the callback path, or the 404 for another path. */
  #query(url: string): CallbackQuery | Rejection {
    const path = this.#options.path;
    const split = this.#plainPath ? splitUrl(url) : undefined;
    if (split !== undefined && split.origin === this.#knownOrigin && split.path === path) {
      const query = parseQuery(split.search);
      if (query !== undefined) return query;
    }
    // Anything unusual takes the URL parser's word: path normalisation, escapes, odd bytes.
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      // A Host header the URL parser refuses (`a b`, `[::1`, `a:99999999`). Its message
      // would quote the URL, Sign included: never repeated.
      return new Rejection(400, undefined, "Malformed request target or Host header");
    }
    this.#knownOrigin = split?.origin;
    if (parsed.pathname !== path) {
      return new Rejection(404, undefined, `No callback endpoint at ${parsed.pathname}`);
    }
    return queryFromParams(parsed.searchParams, parsed.search.slice(1));
  }

  /** Counts an answered callback: at once if it was indexed, else once it is (`indexed`). */
  #count(
    command: string | undefined,
    result: "ok" | "duplicate" | "deferred",
    started: number,
  ): void {
    const metrics = this.#options.metrics!;
    if (result !== "deferred") this.#series(command ?? "", result).inc();
    this.#ackSeconds ??= metrics.ackSeconds.series({});
    this.#ackSeconds.observe((performance.now() - started) / 1000);
  }

  #series(command: string, result: "ok" | "duplicate"): MetricSeries {
    const label = commandLabel(command);
    let series = this.#accepted.get(label);
    if (series === undefined) this.#accepted.set(label, series = {});
    // Created on first use, as before, so /metrics shows no series that never counted.
    return series[result] ??= this.#options.metrics!.callbacks.series({ command: label, result });
  }

  async #accept(
    request: Request,
    query: CallbackQuery,
    info: ClientInfo | undefined,
    receipt: number,
  ): Promise<Accepted> {
    const { journal, state, clock, logger } = this.#options;
    if (query.repeated !== undefined) {
      throw new Rejection(
        400,
        "bad_request",
        `Query parameter ${query.repeated} appears more than once`,
      );
    }
    const verdict = verifyRequest(state.apps, query, clock.now());
    if (!verdict.ok) {
      this.#options.metrics?.verifyFailures.inc({ reason: verdict.reason });
      throw new Rejection(
        verdict.status,
        verdict.status === 403 ? "forbidden" : "unauthorized",
        verdict.message,
      );
    }
    const receivedAt = clock.now();
    const bytes = await this.#body.read(request, info !== undefined);
    const urlCommand = query.command;
    const rules = urlCommand === undefined ? undefined : decisionRules(urlCommand);
    let fallback: { answer: string } | undefined;
    const quarantine = async (
      reason: string,
      payload: Record<string, unknown> = {},
    ): Promise<never> => {
      // A decision command is answered with its fallback (Tencent defines no 400 for it).
      let stored = reason;
      if (rules !== undefined) {
        const decision = this.#fallback(rules, reason, receipt);
        fallback = { answer: JSON.stringify(tencentAnswer(rules, payload, decision)) };
        stored = `${reason} (answered with the fallback: ${describeDecision(decision)})`;
      }
      try {
        await journal.quarantine({
          sdkAppId: verdict.app.sdkAppId,
          command: urlCommand,
          receivedAt,
          query: queryWithoutSign(query.search),
          reason: stored,
          body: bytes,
        });
      } catch (error) {
        throw this.#unavailable(error);
      }
      logger?.warn("Quarantined a callback from app {sdkAppId} ({command}): {reason}", {
        sdkAppId: verdict.app.sdkAppId,
        command: urlCommand ?? "",
        reason,
      });
      throw new Rejection(400, "bad_request", reason, {}, fallback?.answer);
    };

    let body: string;
    try {
      body = UTF8.decode(bytes);
    } catch {
      return await quarantine("Body is not valid UTF-8");
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch (error) {
      return await quarantine(`Body is not JSON: ${(error as SyntaxError).message}`);
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
      return await quarantine("Body is not a JSON object");
    }
    const object = payload as Record<string, unknown>;
    if (urlCommand === undefined || urlCommand === "") {
      return await quarantine("Query parameter CallbackCommand is missing");
    }
    const misnamed = checkBodyCommand(urlCommand, object);
    if (misnamed !== undefined) return await quarantine(misnamed);
    const valid = validatePayload(urlCommand, object);
    if (!valid.ok) return await quarantine(`${urlCommand} payload: ${valid.error}`, object);

    // Before the commit: the decision is stored with the callback, and answered after it.
    let decision: DecisionRecord | undefined;
    if (rules !== undefined) {
      decision = await this.#decide(
        rules,
        {
          id: "",
          command: urlCommand,
          sdkAppId: verdict.app.sdkAppId,
          receivedAt,
          ...(query.clientIp !== undefined ? { clientIp: query.clientIp } : {}),
          ...(query.optPlatform !== undefined ? { optPlatform: query.optPlatform } : {}),
          attempt: 1,
          payload: object as CallbackEvent["payload"],
          rawBody: body,
        },
        state,
        receipt,
      );
    }

    const natural = naturalKey(urlCommand, object, body);
    let stored;
    try {
      stored = await journal.accept({
        sdkAppId: verdict.app.sdkAppId,
        command: urlCommand,
        receivedAt,
        clientIp: query.clientIp,
        optPlatform: query.optPlatform,
        body,
        bodyBytes: bytes,
        dedupKey: JSON.stringify([verdict.app.sdkAppId, urlCommand, natural]),
        groupKey: groupKey(urlCommand, object),
        plugins: state.router.match(urlCommand),
        decision: decision === undefined ? undefined : JSON.stringify(decision),
      });
    } catch (error) {
      throw this.#unavailable(error);
    }
    logger?.debug("Journaled callback {id} ({command}) from {remote}{duplicate}", () => ({
      id: stored === "deferred" ? "(in the inbox, indexed later)" : stored.id,
      command: urlCommand,
      remote: info?.remoteAddr.transport === "tcp" ? info.remoteAddr.hostname : "",
      duplicate: stored !== "deferred" && stored.duplicate ? " (duplicate)" : "",
    }));
    const answer = decision === undefined
      ? OK_BODY
      : JSON.stringify(tencentAnswer(rules!, object, decision));
    if (stored === "deferred") return { result: stored, answer };
    return { result: stored.duplicate ? "duplicate" : "ok", answer };
  }

  /** Asks the deciders; without a decision chain, every decision callback is allowed. */
  #decide(
    rules: DecisionRules,
    event: CallbackEvent,
    state: ServerState,
    receipt: number,
  ): Promise<DecisionRecord> {
    const chain = this.#options.decisions;
    if (chain === undefined) {
      return Promise.resolve({
        verdict: "allow",
        by: "none",
        replaced: false,
        deciders: [],
        ms: 0,
      });
    }
    return chain.decide({
      rules,
      event,
      routed: state.router.match(event.command),
      receivedAt: receipt,
    });
  }

  #fallback(rules: DecisionRules, reason: string, receipt: number): DecisionRecord {
    const chain = this.#options.decisions;
    if (chain === undefined) {
      return { verdict: "allow", by: "fallback", reason, replaced: false, deciders: [], ms: 0 };
    }
    return chain.fallback(rules, reason, receipt);
  }

  #unavailable(error: unknown): Rejection {
    if (!(error instanceof JournalUnavailableError)) throw error;
    this.#options.logger?.error("Answering 503: {message}", { message: error.message });
    return new Rejection(503, "unavailable", "The journal cannot be written");
  }

  #reject(command: string | undefined, rejection: Rejection): Response {
    if (rejection.result !== undefined) {
      this.#options.metrics?.callbacks.inc({
        command: commandLabel(command ?? ""),
        result: rejection.result,
      });
    }
    if (rejection.status !== 400 || rejection.result === undefined) {
      this.#options.logger?.info("Answering {status}: {message}", {
        status: rejection.status,
        message: rejection.message,
      });
    }
    return answer(rejection);
  }
}

/** A decision in a few words, for the quarantine's reason: `allow`, `reject 1`. */
function describeDecision(decision: DecisionRecord): string {
  return decision.verdict === "reject" ? `reject ${decision.code ?? 1}` : decision.verdict;
}
