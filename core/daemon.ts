/**
 * The running daemon: journal, plugins, delivery, callback listener and admin listener,
 * started together from a config and shut down in the reverse order.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { Delivery } from "./delivery.ts";
import { Journal } from "./journal.ts";
import { disposePlugins, loadPlugins, type StartedPlugin, startPlugins } from "./loader.ts";
import { logger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import { Router } from "./router.ts";
import { CallbackHandler, type ServerState } from "./server.ts";
import type { VerifiedApp } from "./verify.ts";

const log = logger("daemon");

/** Options of {@linkcode startDaemon}. */
export interface DaemonOptions {
  clock?: Clock;
}

/** A started daemon. Dispose it (or call `shutdown`) to stop it gracefully. */
export interface Daemon extends AsyncDisposable {
  /** The callback listener's address (the real port when `listen` asked for port 0). */
  addr: Deno.NetAddr;
  /** The admin listener's address, when configured. */
  adminAddr?: Deno.NetAddr;
  metrics: Metrics;
  journal: Journal;
  /** Stops taking callbacks, lets handlers finish within the grace period, closes all. */
  shutdown(): Promise<void>;
}

/** Builds the apps and routes a config asks for. */
export function serverState(config: Config): ServerState {
  const apps = new Map<string, VerifiedApp>();
  for (const app of config.apps) {
    apps.set(app.sdkAppId, {
      sdkAppId: app.sdkAppId,
      maxSkewMs: app.maxSkewMs,
      ...(app.token !== undefined && app.token !== "" ? { token: app.token } : {}),
    });
  }
  return {
    apps,
    router: new Router(config.plugins.map((entry) => ({ name: entry.name, on: entry.on }))),
  };
}

/** Starts everything `config` describes; throws if any part cannot start. */
export async function startDaemon(config: Config, options: DaemonOptions = {}): Promise<Daemon> {
  const loaded = await loadPlugins(config);
  for (const app of config.apps) {
    if (app.token === undefined || app.token === "") {
      log.warn("App {sdkAppId} has no token: Sign is not checked for its callbacks", {
        sdkAppId: app.sdkAppId,
      });
    }
  }
  const journal = Journal.open(config.journal.path, { durability: config.journal.durability });
  const lifetime = new AbortController();
  let started: StartedPlugin[] = [];
  try {
    started = await startPlugins(loaded, { configDir: config.dir, signal: lifetime.signal });
  } catch (error) {
    journal.close();
    throw error;
  }
  const metrics = new Metrics();
  const delivery = new Delivery(journal, {
    ...config.delivery,
    metrics,
    logger: logger("delivery"),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  for (const plugin of started) {
    delivery.add({
      name: plugin.entry.name,
      instance: plugin.instance,
      concurrency: plugin.entry.concurrency,
    });
  }

  const handler = new CallbackHandler({
    path: config.server.path,
    maxBodyBytes: config.server.maxBodyBytes,
    maxInFlight: config.server.maxInFlight,
    journal,
    state: serverState(config),
    metrics,
    logger: logger("server"),
    ...(options.clock ? { clock: options.clock } : {}),
  });

  const listening = Promise.withResolvers<Deno.NetAddr>();
  const serveOptions = {
    hostname: config.server.listen.hostname,
    port: config.server.listen.port,
    onListen: (addr: Deno.NetAddr) => listening.resolve(addr),
    onError: (error: unknown) => {
      log.error("Request failed: {error}", { error });
      return new Response(
        JSON.stringify({ ActionStatus: "FAIL", ErrorCode: 500, ErrorInfo: "Internal error" }),
        { status: 500, headers: { "content-type": "application/json; charset=utf-8" } },
      );
    },
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = config.server.tls
      ? Deno.serve({
        ...serveOptions,
        cert: await Deno.readTextFile(config.server.tls.certFile),
        key: await Deno.readTextFile(config.server.tls.keyFile),
      }, handler.handle)
      : Deno.serve(serveOptions, handler.handle);
  } catch (error) {
    await delivery.close(0);
    await disposePlugins(started);
    journal.close();
    throw error;
  }
  const addr = await listening.promise;
  log.info("Listening for callbacks on {scheme}://{address}{path}", {
    scheme: config.server.tls ? "https" : "http",
    address: formatAddr(addr),
    path: config.server.path,
  });

  let admin: Deno.HttpServer<Deno.NetAddr> | undefined;
  let adminAddr: Deno.NetAddr | undefined;
  if (config.admin) {
    const adminListening = Promise.withResolvers<Deno.NetAddr>();
    admin = Deno.serve({
      hostname: config.admin.listen.hostname,
      port: config.admin.listen.port,
      onListen: (a) => adminListening.resolve(a),
    }, (request) => adminHandler(request, { journal, metrics, delivery }));
    adminAddr = await adminListening.promise;
    log.info("Admin listener on http://{address} (/healthz /readyz /metrics)", {
      address: formatAddr(adminAddr),
    });
  }

  const prune = (): void => {
    const now = Date.now();
    journal.prune(now - config.journal.retentionMs, now - config.journal.dedupWindowMs)
      .catch((error) => log.warn("Cannot prune the journal: {error}", { error }));
  };
  const pruneTimer = setInterval(prune, 60_000);

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      log.info("Shutting down: finishing requests in flight");
      clearInterval(pruneTimer);
      handler.close();
      await server.shutdown();
      await delivery.close(config.delivery.shutdownGraceMs);
      lifetime.abort();
      await disposePlugins(started);
      await admin?.shutdown();
      journal.close();
      log.info("Stopped");
    })();
    return stopping;
  };

  return {
    addr,
    ...(adminAddr ? { adminAddr } : {}),
    metrics,
    journal,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatAddr(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

async function adminHandler(
  request: Request,
  deps: { journal: Journal; metrics: Metrics; delivery: Delivery },
): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET" } });
  }
  if (pathname === "/healthz") return new Response("ok\n");
  if (pathname === "/readyz") {
    try {
      await deps.journal.probe();
      return new Response("ready\n");
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return new Response(`not ready: ${reason}\n`, { status: 503 });
    }
  }
  if (pathname === "/metrics") {
    const status = deps.journal.status();
    for (const name of deps.delivery.plugins) {
      const counts = status.plugins.find((p) => p.plugin === name);
      deps.metrics.pending.set({ plugin: name }, counts?.pending ?? 0);
      deps.metrics.deadLetters.set({ plugin: name }, counts?.dead ?? 0);
    }
    return new Response(deps.metrics.render(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  }
  return new Response("Not found\n", { status: 404 });
}
