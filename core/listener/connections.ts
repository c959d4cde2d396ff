/**
 * The callback listener's connections: Deno's HTTP server (the one `Deno.serve` runs), fed
 * by an accept loop of our own, for what `Deno.serve` cannot do: a cap on open connections
 * and a time limit on connections that have no request under way. A client cannot hold the
 * process's file descriptors: at the cap, a new connection takes the place of the longest
 * idle one, or is closed at once when every one is busy; a connection that sends no complete
 * request head within `headerTimeoutMs` (or no next request within `idleTimeoutMs`) is
 * closed; when the process runs out of descriptors before the cap, the longest idle
 * connection makes room as well, and a failed accept is reported and retried, never fatal.
 *
 * Deno serves one connection through `serveHttpOnConnection`, which its runtime keeps for
 * its own modules (`Deno[Deno.internal]`); `connections_test.ts` fails on a Deno without it.
 * There, {@linkcode serveCallbacks} falls back to `Deno.serve`, without the limits, and says
 * so: Node's `http` server, the other way to have them, answers a third as fast.
 *
 * @module
 */

/** The limits on the connections of {@linkcode serveCallbacks}. */
export interface ConnectionLimits {
  /** Open connections at most; beyond, the longest idle one is closed, or the new one. */
  maxConnections: number;
  /** Time for a new connection's first request head to arrive. */
  headerTimeoutMs: number;
  /** Time a kept-alive connection may wait for its next request. */
  idleTimeoutMs: number;
}

/** What handles each request: `CallbackHandler.handle`. */
export type RequestHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Promise<Response>;

/** Options of {@linkcode serveCallbacks}. */
export interface ServeCallbacksOptions {
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  limits: ConnectionLimits;
  handler: RequestHandler;
  /** An error the handler threw (answered 500). */
  onError: (error: unknown) => void;
  /** A failed accept (out of descriptors, most likely), told at most every 10 s. */
  onAcceptError?: (error: unknown) => void;
  /** Told once when this Deno cannot enforce the limits. */
  onUnlimited?: (reason: string) => void;
}

/** A running callback server. */
export interface CallbackServer {
  readonly addr: Deno.NetAddr;
  /** Open connections (0 when the limits are not enforced). */
  readonly connections: number;
  /** Stops accepting, lets the requests under way finish (at most `graceMs`), closes all. */
  shutdown(graceMs?: number): Promise<void>;
}

const INTERNAL_ERROR_BODY = JSON.stringify({
  ActionStatus: "FAIL",
  ErrorCode: 500,
  ErrorInfo: "Internal error",
});

function internalError(): Response {
  return new Response(INTERNAL_ERROR_BODY, {
    status: 500,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => { finished: Promise<void>; shutdown(): Promise<void> };

/** Deno's server of one connection, where this Deno exposes it. */
export function denoServeOnConnection(): ServeOnConnection | undefined {
  const deno = Deno as unknown as { internal?: symbol } & Record<symbol, unknown>;
  const internal = deno.internal === undefined ? undefined : deno[deno.internal];
  const serve = (internal as { serveHttpOnConnection?: unknown } | undefined)
    ?.serveHttpOnConnection;
  return typeof serve === "function" ? serve as ServeOnConnection : undefined;
}

/** Starts the callback server; resolves once it listens. */
export function serveCallbacks(options: ServeCallbacksOptions): Promise<CallbackServer> {
  const serveOn = denoServeOnConnection();
  if (serveOn !== undefined) return Promise.resolve(new LimitedServer(options, serveOn));
  options.onUnlimited?.(
    "this Deno does not expose serveHttpOnConnection: connections are not capped nor timed out",
  );
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname: options.hostname,
        port: options.port,
        ...options.tls,
        onListen: (addr) => resolve({ addr, connections: 0, shutdown: () => server.shutdown() }),
        onError: (error) => {
          options.onError(error);
          return internalError();
        },
      }, options.handler);
    } catch (error) {
      reject(error);
    }
  });
}

/** A connection, and the requests of it under way. */
interface Connection {
  /** Closes it once the answer under way, if any, is sent (at once when idle). */
  close(): void;
  busy: number;
  served: boolean;
  /** When it last had nothing under way (ms, monotonic). */
  idleSince: number;
}

/** How often idle connections are looked for: a quarter of the shortest limit, 50 ms–1 s. */
function sweepPeriod(limits: ConnectionLimits): number {
  return Math.max(50, Math.min(1_000, limits.headerTimeoutMs / 4, limits.idleTimeoutMs / 4));
}

class LimitedServer implements CallbackServer {
  readonly addr: Deno.NetAddr;
  #options: ServeCallbacksOptions;
  #serveOn: ServeOnConnection;
  #listener: Deno.Listener<Deno.Conn, Deno.NetAddr>;
  /** Connections serving, or waiting for a request. */
  #open = new Set<Connection>();
  /** Connections told to close, until they have. */
  #closing = new Set<Connection>();
  /** Resolved when one of {@linkcode #closing} has closed. */
  #closed: PromiseWithResolvers<void> | undefined;
  #sweeper: ReturnType<typeof setInterval>;
  #stopping = false;
  #accepting: Promise<void>;

  constructor(options: ServeCallbacksOptions, serveOn: ServeOnConnection) {
    this.#options = options;
    this.#serveOn = serveOn;
    const { hostname, port, tls } = options;
    this.#listener = tls
      ? Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key })
      : Deno.listen({ hostname, port });
    this.addr = this.#listener.addr;
    this.#sweeper = setInterval(() => this.#sweep(), sweepPeriod(options.limits));
    this.#accepting = this.#acceptLoop();
  }

  get connections(): number {
    return this.#open.size;
  }

  async shutdown(graceMs = 30_000): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#sweeper);
    this.#listener.close();
    await this.#accepting;
    // Each connection closes once its answer under way is sent; a request still not
    // answered after `graceMs` is left to end with the process.
    for (const connection of [...this.#open]) connection.close();
    const deadline = performance.now() + graceMs;
    while (this.#closing.size > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async #acceptLoop(): Promise<void> {
    let reported = -Infinity;
    while (!this.#stopping) {
      // Connections being closed still hold descriptors: at the cap, the next connection
      // waits in the kernel's backlog until one has closed (for a second at most).
      const waitUntil = performance.now() + 1_000;
      while (
        this.#open.size + this.#closing.size >= this.#options.limits.maxConnections &&
        this.#closing.size > 0 && performance.now() < waitUntil
      ) {
        await this.#someClosed();
        if (this.#stopping) return;
      }
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopping || error instanceof Deno.errors.BadResource) return;
        // Out of descriptors, most likely: the longest idle connection makes room (or one
        // closing is waited for), say so now and then, and try again.
        if (performance.now() - reported >= 10_000) {
          reported = performance.now();
          this.#options.onAcceptError?.(error);
        }
        if (this.#closing.size > 0 || this.#evictIdle()) await this.#someClosed();
        else await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      // At the cap the longest idle connection makes room; with every one busy, this one
      // is refused.
      if (this.#open.size >= this.#options.limits.maxConnections && !this.#evictIdle()) {
        conn.close();
      } else {
        this.#admit(conn);
      }
    }
  }

  /** Resolves once a connection told to close has closed, or after a short while. */
  #someClosed(): Promise<void> {
    const waiter = this.#closed ??= Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      if (this.#closed === waiter) this.#closed = undefined;
      waiter.resolve();
    }, 100);
    return waiter.promise.finally(() => clearTimeout(timer));
  }

  #admit(conn: Deno.Conn): void {
    let served: { finished: Promise<void>; shutdown(): Promise<void> } | undefined;
    let closing = false;
    const connection: Connection = {
      close: () => {
        if (closing) return;
        closing = true;
        this.#open.delete(connection);
        this.#closing.add(connection);
        // Graceful: an idle or half-sent connection closes at once, a request under way is
        // answered first. (Aborting instead could close a connection that already ended,
        // which Deno reports as an uncaught error.)
        served?.shutdown().catch(() => {});
      },
      busy: 0,
      served: false,
      idleSince: performance.now(),
    };
    this.#open.add(connection);
    const { handler, onError } = this.#options;
    try {
      served = this.#serveOn(
        conn,
        undefined,
        async (request, info) => {
          connection.busy++;
          connection.served = true;
          try {
            return await handler(request, info);
          } finally {
            // Busy while the handler runs: the time limits and the cap leave it alone.
            connection.busy--;
            connection.idleSince = performance.now();
          }
        },
        (error) => {
          onError(error);
          return internalError();
        },
        () => {},
      );
      served.finished.catch(() => {}).finally(() => {
        this.#open.delete(connection);
        if (this.#closing.delete(connection)) {
          const waiter = this.#closed;
          this.#closed = undefined;
          waiter?.resolve();
        }
      });
      if (closing) served.shutdown().catch(() => {});
    } catch (error) {
      this.#open.delete(connection);
      conn.close();
      onError(error);
    }
  }

  /** Closes the longest idle connection; false when every one is busy. */
  #evictIdle(): boolean {
    let oldest: Connection | undefined;
    for (const connection of this.#open) {
      if (
        connection.busy === 0 && (oldest === undefined || connection.idleSince < oldest.idleSince)
      ) {
        oldest = connection;
      }
    }
    oldest?.close();
    return oldest !== undefined;
  }

  #sweep(): void {
    const now = performance.now();
    const { headerTimeoutMs, idleTimeoutMs } = this.#options.limits;
    for (const connection of this.#open) {
      if (connection.busy > 0) continue;
      const limit = connection.served ? idleTimeoutMs : headerTimeoutMs;
      if (now - connection.idleSince >= limit) connection.close();
    }
  }
}
