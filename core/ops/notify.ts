/// <reference lib="deno.unstable" />
/**
 * systemd's notification protocol (`sd_notify`): `READY=1`, `RELOADING=1`, `STOPPING=1` and
 * `WATCHDOG=1` datagrams sent to the unix socket named by `$NOTIFY_SOCKET`.
 *
 * Deno sends unix datagrams through `Deno.listenDatagram({ transport: "unixpacket" })`, which
 * needs `--unstable-net` (the `start`/`cli`/`compile` tasks pass it). The sending socket is
 * bound to an abstract address (no file is created), and both filesystem (`/run/...`) and
 * abstract (`@name`) notify sockets are supported.
 *
 * @module
 */
import { logger } from "./log.ts";

const log = logger("notify");
const encoder = new TextEncoder();

/** The environment variables {@linkcode SystemdNotifier.fromEnv} reads. */
export interface NotifyEnv {
  NOTIFY_SOCKET?: string | undefined;
  WATCHDOG_USEC?: string | undefined;
  WATCHDOG_PID?: string | undefined;
}

/** Options of {@linkcode SystemdNotifier}. */
export interface NotifierOptions {
  /** systemd's watchdog timeout in µs; pings go out every half of it. Default: no pings. */
  watchdogUsec?: number;
  /** Reads CLOCK_MONOTONIC in µs for `MONOTONIC_USEC`. Default {@linkcode monotonicUsec}. */
  monotonic?: () => bigint;
}

/** Raised when `$NOTIFY_SOCKET` cannot be used. */
export class NotifyError extends TypeError {
  override name = "NotifyError";
}

/**
 * Sends state changes to systemd. Messages go out one at a time, in the order they were
 * asked for; a failed send is logged, never thrown, since the daemon works without systemd.
 */
export class SystemdNotifier implements AsyncDisposable {
  /** The notify socket as the kernel wants it (`\0name` for abstract sockets). */
  readonly address: string;
  readonly watchdogUsec: number | undefined;
  #monotonic: () => bigint;
  #conn: Deno.DatagramConn | undefined;
  #queue: Promise<void> = Promise.resolve();
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(socket: string, options: NotifierOptions = {}) {
    this.address = socketAddress(socket);
    this.watchdogUsec = options.watchdogUsec;
    this.#monotonic = options.monotonic ?? monotonicUsec;
  }

  /**
   * A notifier for `$NOTIFY_SOCKET`, or undefined when it is not set (not run by systemd
   * with `Type=notify`). `WATCHDOG_USEC` is honoured unless `WATCHDOG_PID` names another
   * process. Throws {@linkcode NotifyError} for a value it cannot use.
   */
  static fromEnv(env: NotifyEnv = Deno.env.toObject()): SystemdNotifier | undefined {
    const socket = env.NOTIFY_SOCKET;
    if (socket === undefined || socket === "") return undefined;
    let watchdogUsec: number | undefined;
    const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === "" ||
      env.WATCHDOG_PID === String(Deno.pid);
    if (env.WATCHDOG_USEC !== undefined && env.WATCHDOG_USEC !== "" && forUs) {
      watchdogUsec = Number(env.WATCHDOG_USEC);
      if (!Number.isSafeInteger(watchdogUsec) || watchdogUsec <= 0) {
        throw new NotifyError(
          `WATCHDOG_USEC "${env.WATCHDOG_USEC}" is not a positive number of microseconds`,
        );
      }
    }
    return new SystemdNotifier(socket, watchdogUsec === undefined ? {} : { watchdogUsec });
  }

  /** `READY=1`: the daemon serves. */
  ready(): Promise<void> {
    return this.send("READY=1");
  }

  /** `RELOADING=1` with `MONOTONIC_USEC`: a reload starts; follow it with {@linkcode ready}. */
  reloading(): Promise<void> {
    return this.send(() => `RELOADING=1\nMONOTONIC_USEC=${this.#monotonic()}`);
  }

  /**
   * `STOPPING=1`: the daemon is shutting down. Ends the watchdog first: systemd stops
   * watching once the unit deactivates, and a ping queued after STOPPING would misstate it.
   */
  stopping(): Promise<void> {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    return this.send("STOPPING=1");
  }

  /**
   * Sends `WATCHDOG=1` every half `WATCHDOG_USEC` until closed; nothing when the watchdog is
   * off. The timer does not keep the process alive.
   */
  startWatchdog(): void {
    if (this.watchdogUsec === undefined || this.#watchdog !== undefined || this.#closed) return;
    const everyMs = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    const timer = setInterval(() => void this.send("WATCHDOG=1"), everyMs);
    Deno.unrefTimer(timer);
    this.#watchdog = timer;
  }

  /**
   * Sends one raw notification (newline-separated `KEY=VALUE` lines, or a function making
   * them when its turn comes). Never rejects: failures are logged.
   */
  send(message: string | (() => string)): Promise<void> {
    this.#queue = this.#queue.then(async () => {
      if (this.#closed) return;
      let state = typeof message === "string" ? message : "";
      try {
        if (typeof message === "function") state = message();
        this.#conn ??= bindSender();
        await this.#conn.send(encoder.encode(state), {
          transport: "unixpacket",
          path: this.address,
        });
      } catch (error) {
        log.warn("Cannot notify systemd of {state}: {error}", {
          state: state.split("\n")[0] || "a state change",
          error: error instanceof Error ? error.message : String(error),
        });
      }
    });
    return this.#queue;
  }

  /** Stops the watchdog, waits for queued messages, closes the socket. */
  async close(): Promise<void> {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
    await this.#queue;
    this.#closed = true;
    this.#conn?.close();
    this.#conn = undefined;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The kernel address of a `$NOTIFY_SOCKET` value: a path is kept, `@name` becomes the
 * abstract address `\0name`. Throws {@linkcode NotifyError} for other forms (e.g. `vsock:`).
 */
export function socketAddress(socket: string): string {
  if (socket.startsWith("/")) return socket;
  if (socket.startsWith("@") && socket.length > 1) return `\0${socket.slice(1)}`;
  throw new NotifyError(
    `NOTIFY_SOCKET "${socket}" is neither a socket path nor an abstract "@name" socket`,
  );
}

/**
 * CLOCK_MONOTONIC in microseconds, as `MONOTONIC_USEC` wants it. Deno has no clock_gettime
 * and refuses `/proc/uptime` without `--allow-all`, so this takes the kernel's uptime once
 * (`Deno.osUptime()`: the boot-time clock, rounded up to whole seconds) and advances it with
 * `performance.now()` (which runs on CLOCK_MONOTONIC). The boot-time clock is CLOCK_MONOTONIC
 * plus the time spent suspended, so on a server that never suspends the value is at most one
 * second ahead of CLOCK_MONOTONIC and never behind it: what systemd needs to see the
 * notification as newer than its reload request.
 */
export function monotonicUsec(): bigint {
  if (anchor === undefined) {
    // sysinfo(2) rounds the uptime up to the next whole second.
    const uptimeUsec = BigInt(Math.ceil(Deno.osUptime())) * 1_000_000n;
    anchor = uptimeUsec - BigInt(Math.floor(performance.now() * 1000));
  }
  return anchor + BigInt(Math.ceil(performance.now() * 1000));
}

let anchor: bigint | undefined;

function bindSender(): Deno.DatagramConn {
  if (typeof Deno.listenDatagram !== "function") {
    throw new NotifyError(
      "unix datagram sockets need --unstable-net (the compiled binary and deno tasks pass it)",
    );
  }
  // An autobound-like abstract address: nothing on disk, gone when the process ends.
  for (let tries = 0;; tries++) {
    const name = `\0imhookd-notify-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      return Deno.listenDatagram({ transport: "unixpacket", path: name });
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || tries >= 3) throw error;
    }
  }
}
