/**
 * The running daemon: journal, plugins, delivery, callback listener and admin listener,
 * started together from a config and shut down in the reverse order.
 *
 * @module
 */
import { adminHandler } from "./ops/admin.ts";
import { StatusBoard } from "./ops/status.ts";
import type { Clock } from "./clock.ts";
import { type Config, ConfigError, configWarnings, loadConfig } from "./config/config.ts";
import { DeliveryHost } from "./delivery/host.ts";
import { condemnSuspects, suspectsPath } from "./delivery/suspects.ts";
import { describeError } from "./describe_error.ts";
import { JournalWriter } from "./journal/mod.ts";
import { PluginLoadError } from "./delivery/loader.ts";
import { logger, setupLogging } from "./ops/log.ts";
import { Metrics } from "./ops/metrics.ts";
import { Router } from "./config/router.ts";
import { CallbackHandler, type ServerState } from "./listener/handler.ts";
import { DecisionChain } from "./decisions/chain.ts";
import { type CallbackServer, serveCallbacks } from "./listener/connections.ts";
import type { VerifiedApp } from "./listener/verify.ts";

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
  journal: JournalWriter;
  /** The config in force (after reloads; restart-only settings as the process started). */
  readonly config: Config;
  /** Delivery: the engine and the supervised plugins (decisions ask them through it). */
  readonly delivery: DeliveryHost;
  /**
   * Resolves with the reason when the daemon cannot go on and should stop and exit non-zero
   * (so that systemd restarts it): too many plugin threads stuck beyond reclaim.
   */
  readonly failed: Promise<string>;
  /**
   * Reads the config file again and, if it is valid, switches apps, tokens, routes and
   * plugins without closing the listeners; otherwise keeps the running config. Settings that
   * need a restart (listen addresses, TLS, journal path, delivery tuning) are logged and kept.
   * Reloads run one at a time.
   */
  reload(): Promise<ReloadResult>;
  /**
   * Answers 503 to new callbacks, lets requests in flight finish and running handlers run
   * until `delivery.shutdown_grace` has passed since the call, then aborts them (they stay
   * pending), disposes the plugins and closes the journal.
   */
  shutdown(): Promise<void>;
}

/** The outcome of {@linkcode Daemon.reload}. */
export interface ReloadResult {
  /** True when the new config is in force and every plugin runs with it. */
  ok: boolean;
  /** Every problem found, one line each (config errors, plugins that failed to start). */
  errors: string[];
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
  warnTokenless(config);
  // The listener's handler, once it exists: the journal tells it what it indexed late.
  const listener: { handler?: CallbackHandler } = {};
  const journal = JournalWriter.open(config.journal.path, {
    durability: config.journal.durability,
    // The delivery worker checkpoints it, off this thread (see delivery/worker.ts).
    checkpointedElsewhere: true,
    inbox: { onIndexed: (records, results) => listener.handler?.indexed(records, results) },
  });
  const metrics = new Metrics();
  metrics.configReloads.inc({ result: "ok" }, 0);
  metrics.configReloads.inc({ result: "failed" }, 0);
  const failed = Promise.withResolvers<string>();
  let delivery: DeliveryHost;
  try {
    // A callback whose handler was running when the last run died of it is not delivered again.
    for (
      const { plugin, callback } of await condemnSuspects(
        journal,
        suspectsPath(config.journal.path),
      )
    ) {
      log.error(
        "Callback {callback} is a dead letter for {plugin}: imhookd stopped abruptly while the plugin handled it",
        { callback, plugin },
      );
    }
    // Resolves once the plugin modules loaded (a module that cannot is a config error,
    // found before listening), without waiting for any plugin's `create`: nothing a plugin
    // does keeps the listener from listening.
    delivery = await DeliveryHost.start(config, journal, metrics, {
      onTooManyStuck: (reason) => {
        log.fatal("{reason}: stopping, to be restarted", { reason });
        failed.resolve(reason);
      },
    });
  } catch (error) {
    journal.close();
    throw error;
  }

  // The deciders are the plugins' `decide`, run where the plugins run.
  const decisions = new DecisionChain(delivery, config.decisions, {
    metrics,
    logger: logger("decisions"),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const handler = listener.handler = new CallbackHandler({
    path: config.server.path,
    maxBodyBytes: config.server.maxBodyBytes,
    maxInFlight: config.server.maxInFlight,
    journal,
    state: serverState(config),
    metrics,
    logger: logger("server"),
    ...(options.clock ? { clock: options.clock } : {}),
    decisions,
  });

  let server: CallbackServer;
  try {
    server = await serveCallbacks({
      hostname: config.server.listen.hostname,
      port: config.server.listen.port,
      ...(config.server.tls
        ? {
          tls: {
            cert: await Deno.readTextFile(config.server.tls.certFile),
            key: await Deno.readTextFile(config.server.tls.keyFile),
          },
        }
        : {}),
      limits: {
        maxConnections: config.server.maxConnections,
        headerTimeoutMs: config.server.headerTimeoutMs,
        idleTimeoutMs: config.server.idleTimeoutMs,
      },
      handler: handler.handle,
      onError: (error: unknown) => log.error("Request failed: {error}", { error }),
      onAcceptError: (error) =>
        log.warn("Cannot accept a callback connection ({error}): closing idle ones", { error }),
      onUnlimited: (reason) => log.warn("Callback listener: {reason}", { reason }),
    });
  } catch (error) {
    await delivery.shutdown(0);
    journal.close();
    throw error;
  }
  const addr = server.addr;

  // The config in force: the last valid one read, but with the settings that only apply
  // after a restart (listen addresses, journal path, ...) as the process started.
  let current = config;
  let stopping: Promise<void> | undefined;
  // Reloads run one at a time; shutdown waits for the one under way.
  let queue: Promise<unknown> = Promise.resolve();

  let admin: Deno.HttpServer<Deno.NetAddr> | undefined;
  let adminAddr: Deno.NetAddr | undefined;
  let board: StatusBoard | undefined;
  if (config.admin) {
    const adminListening = Promise.withResolvers<Deno.NetAddr>();
    const problems = (): string[] => [
      ...(stopping ? ["imhookd is shutting down"] : []),
      ...delivery.problems(),
    ];
    board = new StatusBoard({
      metrics,
      journalPath: config.journal.path,
      plugins: () => delivery.plugins,
      problems,
    });
    try {
      admin = Deno.serve(
        {
          hostname: config.admin.listen.hostname,
          port: config.admin.listen.port,
          onListen: (a) => adminListening.resolve(a),
        },
        adminHandler({
          journal,
          metrics,
          plugins: () => delivery.plugins,
          problems,
          status: board,
        }),
      );
    } catch (error) {
      board.close();
      await server.shutdown();
      await delivery.shutdown(0);
      journal.close();
      throw error;
    }
    adminAddr = await adminListening.promise;
    log.info("Admin listener on http://{address} (status page at /; /healthz /readyz /metrics)", {
      address: formatAddr(adminAddr),
    });
  }

  // Logged last: once this line is out, every listener is up.
  log.info("Listening for callbacks on {scheme}://{address}{path}", {
    scheme: config.server.tls ? "https" : "http",
    address: formatAddr(addr),
    path: config.server.path,
  });

  // Prunes in small batches until done, so the listener's commits interleave with it.
  let pruning = false;
  const prune = (): void => {
    if (pruning) return;
    pruning = true;
    const now = Date.now();
    journal.pruneAll(now - current.journal.retentionMs, now - current.journal.dedupWindowMs)
      .then((removed) => {
        if (removed > 0) log.debug("Pruned {removed} journal rows", { removed });
      })
      .catch((error) => log.warn("Cannot prune the journal: {error}", { error }))
      .finally(() => pruning = false);
  };
  const pruneTimer = setInterval(prune, 60_000);

  const reloadNow = async (): Promise<ReloadResult> => {
    const file = current.file;
    log.info("Reloading {file}", { file });
    const failed = (errors: string[]): ReloadResult => {
      for (const problem of errors) {
        log.error("Reload failed, still running the previous config: {problem}", { problem });
      }
      metrics.configReloads.inc({ result: "failed" });
      return { ok: false, errors };
    };
    let next: Config;
    try {
      next = await loadConfig(file);
    } catch (error) {
      return failed(problemsOf(error));
    }
    for (const warning of configWarnings(next)) log.warn("{warning}", { warning });
    const effective = keepRestartOnly(next, current);
    // The changed plugins load first; routes switch (onSwitch) before the plugins that
    // leave stop and the changed ones restart.
    const result = await delivery.reload(effective, () => {
      for (const key of restartOnlyChanges(current, next)) {
        log.warn(
          "{key} changed in {file}: it applies only after a restart; keeping the running value",
          { key, file },
        );
      }
      if (JSON.stringify(next.log) !== JSON.stringify(current.log)) setupLogging(next.log);
      warnTokenless(next);
      // Apps, tokens and routes switch at once: every request from here on sees the new ones.
      handler.state = serverState(effective);
      decisions.settings = effective.decisions;
      current = effective;
    });
    if (!result.applied) return failed(result.errors);

    metrics.configReloads.inc({ result: result.ok ? "ok" : "failed" });
    if (result.ok) {
      log.info("Reloaded {file}: {plugins} plugin(s), {apps} app(s)", {
        file,
        plugins: delivery.plugins.length,
        apps: effective.apps.length,
      });
    } else {
      log.error("Reloaded {file} with errors: {count} plugin(s) not running as configured", {
        file,
        count: result.errors.length,
      });
    }
    return { ok: result.ok, errors: result.errors };
  };

  const reload = (): Promise<ReloadResult> => {
    const run = queue.then(() =>
      stopping ? { ok: false, errors: ["imhookd is shutting down"] } : reloadNow()
    );
    queue = run.catch(() => {});
    return run;
  };

  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      log.info("Shutting down: new callbacks get 503, requests in flight finish");
      clearInterval(pruneTimer);
      handler.close();
      const grace = current.delivery.shutdownGraceMs;
      const deadline = performance.now() + grace;
      await queue;
      await drain(handler, grace);
      await server.shutdown();
      await delivery.shutdown(Math.max(0, deadline - performance.now()));
      await admin?.shutdown();
      board?.close();
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
    get config() {
      return current;
    },
    delivery,
    failed: failed.promise,
    reload,
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

/** Settings the running process cannot switch: a change is logged and waits for a restart. */
const RESTART_ONLY: [string, (config: Config) => unknown][] = [
  ["server.listen", (c) => c.server.listen],
  ["server.path", (c) => c.server.path],
  ["server.max_body_bytes", (c) => c.server.maxBodyBytes],
  ["server.max_in_flight", (c) => c.server.maxInFlight],
  ["server.max_connections", (c) => c.server.maxConnections],
  ["server.header_timeout", (c) => c.server.headerTimeoutMs],
  ["server.idle_timeout", (c) => c.server.idleTimeoutMs],
  ["server.tls", (c) => c.server.tls ?? null],
  ["admin.listen", (c) => c.admin?.listen ?? null],
  ["journal.path", (c) => c.journal.path],
  ["journal.durability", (c) => c.journal.durability],
  ["delivery.max_attempts", (c) => c.delivery.maxAttempts],
  ["delivery.initial_backoff", (c) => c.delivery.initialBackoffMs],
  ["delivery.max_backoff", (c) => c.delivery.maxBackoffMs],
  ["delivery.handler_timeout", (c) => c.delivery.handlerTimeoutMs],
  ["delivery.ordering", (c) => c.delivery.ordering],
];

function restartOnlyChanges(running: Config, next: Config): string[] {
  return RESTART_ONLY.filter(([, get]) =>
    JSON.stringify(get(running)) !== JSON.stringify(get(next))
  )
    .map(([key]) => key);
}

function keepRestartOnly(next: Config, running: Config): Config {
  const effective: Config = {
    ...next,
    server: running.server,
    journal: {
      ...next.journal,
      path: running.journal.path,
      durability: running.journal.durability,
    },
    // Supervision settings apply to the plugins' next starts and checks.
    delivery: {
      ...running.delivery,
      shutdownGraceMs: next.delivery.shutdownGraceMs,
      pluginStallMs: next.delivery.pluginStallMs,
      maxStuckThreads: next.delivery.maxStuckThreads,
      startTimeoutMs: next.delivery.startTimeoutMs,
    },
  };
  if (running.admin) effective.admin = running.admin;
  else delete effective.admin;
  return effective;
}

function warnTokenless(config: Config): void {
  for (const app of config.apps) {
    if (app.token === undefined || app.token === "") {
      log.warn("App {sdkAppId} has no token: Sign is not checked for its callbacks", {
        sdkAppId: app.sdkAppId,
      });
    }
  }
}

function problemsOf(error: unknown): string[] {
  if (error instanceof ConfigError || error instanceof PluginLoadError) {
    return error.message.split("\n");
  }
  return [describeError(error, { name: false })];
}

/** Waits until no callback request is being read or committed, at most `limitMs`. */
async function drain(handler: CallbackHandler, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (handler.inFlight > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
