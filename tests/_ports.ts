/**
 * Ports for tests that must name one before anything listens on it (a server that cannot
 * pick its own, a receiver that is down and comes back later).
 *
 * @module
 */

/** Where the kernel's ephemeral range starts when /proc does not say (Linux's default). */
const EPHEMERAL_LOW = 32768;
/** The lowest port handed out: above the well-known and common service ports. */
const LOWEST = 10000;

/**
 * A port of 127.0.0.1 that nothing listens on now, drawn at random below the kernel's
 * ephemeral range. A port bound with `port: 0` and closed again lies inside that range, where
 * another test's `port: 0` server may take it before it is used; none can below it.
 */
export async function vacantPort(): Promise<number> {
  let low = EPHEMERAL_LOW;
  try {
    const range = await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range");
    low = Number(range.trim().split(/\s+/)[0]) || EPHEMERAL_LOW;
  } catch {
    // Not Linux: keep the default.
  }
  const span = Math.max(1, low - LOWEST);
  for (let tries = 0; tries < 100; tries++) {
    const port = LOWEST + Math.floor(Math.random() * span);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error(`No vacant port of 127.0.0.1 between ${LOWEST} and ${low}`);
}
