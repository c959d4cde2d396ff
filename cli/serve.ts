/**
 * `imhookd serve`: runs the daemon until SIGTERM or SIGINT; SIGHUP reloads the config;
 * tells systemd where it is.
 *
 * @module
 */
import { configWarnings } from "../core/config/config.ts";
import { type Daemon, startDaemon } from "../core/daemon.ts";
import { logger, logUncaught } from "../core/ops/log.ts";
import { SystemdNotifier } from "../core/ops/notify.ts";
import { type CliOptions, EXIT, type OptionName } from "./_command.ts";
import { commandConfig } from "./_config.ts";

/** The help of `serve`. */
export const help = `Usage: imhookd serve --config FILE

Runs the daemon: receives callbacks, journals them, delivers them to plugins.
SIGTERM or SIGINT stop it gracefully; SIGHUP reloads the config.
Under systemd (Type=notify) it reports READY/RELOADING/STOPPING and watchdog pings
to $NOTIFY_SOCKET.`;

/** The options of `serve`. */
export const options: readonly OptionName[] = ["config"];

/** Runs the daemon; resolves once it has stopped. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!, { withPlugins: true });
  // From here on every line on stderr is a log line (JSON when so configured).
  logUncaught();
  const log = logger("main");
  for (const warning of configWarnings(config)) log.warn("{warning}", { warning });
  let notifier: SystemdNotifier | undefined;
  try {
    notifier = SystemdNotifier.fromEnv();
  } catch (error) {
    log.warn("Not notifying systemd: {error}", { error });
  }
  // Listeners go in before the daemon starts: a SIGTERM that arrives while it starts must
  // still stop it gracefully, never kill it.
  let daemon: Daemon | undefined;
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  let reloads = Promise.resolve();
  const onStop = (signal: Deno.Signal) => () => {
    if (stopping) {
      log.info("Received {signal}: already shutting down", { signal });
      return;
    }
    stopping = true;
    log.info("Received {signal}: shutting down", { signal });
    stopped.resolve();
  };
  const onHup = (): void => {
    if (stopping) return;
    if (daemon === undefined) {
      log.warn("Received SIGHUP while starting: the config being started is already the newest");
      return;
    }
    const running = daemon;
    log.info("Received SIGHUP: reloading the config");
    reloads = reloads.then(async () => {
      await notifier?.reloading();
      try {
        await running.reload();
      } catch (error) {
        log.error("Reload failed: {error}", { error });
      }
      if (!stopping) await notifier?.ready();
    });
  };
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", onHup],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    daemon = await startDaemon(config);
    if (!stopping) {
      await notifier?.ready();
      notifier?.startWatchdog();
    }
    // A signal, or too many plugin threads stuck beyond reclaim (then exit 1: systemd restarts).
    const failure = await Promise.race([stopped.promise, daemon.failed]);
    stopping = true;
    await notifier?.stopping();
    await daemon.shutdown();
    await reloads;
    if (failure !== undefined) return EXIT.failure;
  } finally {
    await notifier?.close();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
  return EXIT.ok;
}
