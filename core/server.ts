/**
 * The callback listener's request handler: checks a request in the order DESIGN.md gives
 * (path, method, app, signature, size, JSON, schema), journals it, and answers only after
 * the commit.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { type Clock, systemClock } from "./clock.ts";
import { type Journal, JournalUnavailableError } from "./journal.ts";
import type { Metrics } from "./metrics.ts";
import { commandLabel, groupKey, naturalKey, validatePayload } from "./protocol.ts";
import type { Router } from "./router.ts";
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
  journal: Journal;
  state: ServerState;
  metrics?: Metrics;
  logger?: Logger;
  clock?: Clock;
  /** How long a client may take to send its body. Default 10 000 ms. */
  bodyTimeoutMs?: number;
}

/** The `result` label of `imhookd_callbacks_total`. */
export type CallbackResult =
  | "ok"
  | "duplicate"
  | "bad_request"
  | "unauthorized"
  | "forbidden"
  | "too_large"
  | "overloaded"
  | "unavailable";

const OK_BODY = JSON.stringify({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };
const SINGLE_PARAMS = ["SdkAppid", "CallbackCommand", "RequestTime", "Sign"] as const;

class Rejection {
  constructor(
    readonly status: number,
    readonly result: CallbackResult | undefined,
    readonly message: string,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** Handles requests to the callback listener. */
export class CallbackHandler {
  #options: CallbackHandlerOptions & { clock: Clock; bodyTimeoutMs: number };
  #inFlight = 0;
  #closing = false;

  constructor(options: CallbackHandlerOptions) {
    this.#options = { clock: systemClock, bodyTimeoutMs: 10_000, ...options };
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

  /** From now on, answer 503: the daemon is shutting down. */
  close(): void {
    this.#closing = true;
  }

  /** The `Deno.serve` handler. */
  handle = async (request: Request, info?: Deno.ServeHandlerInfo): Promise<Response> => {
    const started = performance.now();
    const url = new URL(request.url);
    if (url.pathname !== this.#options.path) {
      return answer(new Rejection(404, undefined, `No callback endpoint at ${url.pathname}`));
    }
    if (request.method !== "POST") {
      return answer(
        new Rejection(405, undefined, `Method ${request.method} is not allowed; use POST`, {
          allow: "POST",
        }),
      );
    }
    const command = url.searchParams.get("CallbackCommand") ?? undefined;
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
      const result = await this.#accept(request, url, info);
      const label = commandLabel(command ?? "");
      this.#options.metrics?.callbacks.inc({ command: label, result });
      this.#options.metrics?.ackSeconds.observe({}, (performance.now() - started) / 1000);
      return new Response(OK_BODY, { headers: JSON_HEADERS });
    } catch (error) {
      if (error instanceof Rejection) return this.#reject(command, error);
      throw error;
    } finally {
      this.#inFlight--;
    }
  };

  async #accept(
    request: Request,
    url: URL,
    info: Deno.ServeHandlerInfo | undefined,
  ): Promise<CallbackResult> {
    const { journal, state, clock, logger } = this.#options;
    const params = url.searchParams;
    for (const name of SINGLE_PARAMS) {
      if (params.getAll(name).length > 1) {
        throw new Rejection(400, "bad_request", `Query parameter ${name} appears more than once`);
      }
    }
    const sdkAppId = params.get("SdkAppid") ?? undefined;
    const verdict = verifyRequest(state.apps, {
      sdkAppId,
      sign: params.get("Sign") ?? undefined,
      requestTime: params.get("RequestTime") ?? undefined,
    }, clock.now());
    if (!verdict.ok) {
      this.#options.metrics?.verifyFailures.inc({ reason: verdict.reason });
      throw new Rejection(
        verdict.status,
        verdict.status === 403 ? "forbidden" : "unauthorized",
        verdict.message,
      );
    }
    const receivedAt = clock.now();
    const bytes = await this.#readBody(request);
    const urlCommand = params.get("CallbackCommand") ?? undefined;
    const quarantine = async (reason: string): Promise<never> => {
      try {
        await journal.quarantine({
          sdkAppId: verdict.app.sdkAppId,
          command: urlCommand,
          receivedAt,
          query: queryWithoutSign(params),
          reason,
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
      throw new Rejection(400, "bad_request", reason);
    };

    let body: string;
    try {
      body = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
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
    if (typeof object.CallbackCommand !== "string") {
      return await quarantine("Body has no CallbackCommand string");
    }
    if (object.CallbackCommand !== urlCommand) {
      return await quarantine(
        `Body CallbackCommand "${object.CallbackCommand}" differs from the URL's "${urlCommand}"`,
      );
    }
    const valid = validatePayload(urlCommand, object);
    if (!valid.ok) return await quarantine(`${urlCommand} payload: ${valid.error}`);

    const natural = naturalKey(urlCommand, object, body);
    let stored;
    try {
      stored = await journal.append({
        sdkAppId: verdict.app.sdkAppId,
        command: urlCommand,
        receivedAt,
        clientIp: params.get("ClientIP") ?? undefined,
        optPlatform: params.get("OptPlatform") ?? undefined,
        body,
        dedupKey: JSON.stringify([verdict.app.sdkAppId, urlCommand, natural]),
        groupKey: groupKey(urlCommand, object),
        plugins: state.router.match(urlCommand),
      });
    } catch (error) {
      throw this.#unavailable(error);
    }
    logger?.debug("Journaled callback {id} ({command}) from {remote}{duplicate}", {
      id: stored.id,
      command: urlCommand,
      remote: info?.remoteAddr.transport === "tcp" ? info.remoteAddr.hostname : "",
      duplicate: stored.duplicate ? " (duplicate)" : "",
    });
    return stored.duplicate ? "duplicate" : "ok";
  }

  /** Reads the body, refusing more than max_body_bytes whatever Content-Length says. */
  async #readBody(request: Request): Promise<Uint8Array> {
    const limit = this.#options.maxBodyBytes;
    const tooLarge = new Rejection(413, "too_large", `Body is over max_body_bytes (${limit})`);
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > limit) {
      await request.body?.cancel().catch(() => {});
      throw tooLarge;
    }
    if (request.body === null) return new Uint8Array();
    const reader = request.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let timedOut = false;
    const cancelTimer = this.#options.clock.setTimeout(() => {
      timedOut = true;
      reader.cancel().catch(() => {});
    }, this.#options.bodyTimeoutMs);
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw new Rejection(
            400,
            "bad_request",
            `Cannot read the body: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
        if (chunk.done) break;
        size += chunk.value.length;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw tooLarge;
        }
        chunks.push(chunk.value);
      }
    } finally {
      cancelTimer();
    }
    if (timedOut) {
      throw new Rejection(
        408,
        "bad_request",
        `Body not received within ${this.#options.bodyTimeoutMs}ms`,
      );
    }
    if (chunks.length === 1) return chunks[0]!;
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return bytes;
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

function answer(rejection: Rejection): Response {
  return new Response(
    JSON.stringify({
      ActionStatus: "FAIL",
      ErrorCode: rejection.status,
      ErrorInfo: rejection.message,
    }),
    { status: rejection.status, headers: { ...JSON_HEADERS, ...rejection.headers } },
  );
}

function queryWithoutSign(params: URLSearchParams): string {
  const copy = new URLSearchParams(params);
  copy.delete("Sign");
  return copy.toString();
}
