/**
 * The scheduling priority of the threads that deliver: nicer than the thread that answers
 * callbacks.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getPriority, setPriority } from "node:os";

/**
 * How much nicer than the daemon delivery threads run. When the CPU is short, the main
 * thread, whose answers Tencent waits at most 2 s for, gets it first; deliveries wait in the
 * journal and catch up when the load drops.
 */
export const NICER_BY = 10;

/**
 * Lowers the calling thread's scheduling priority by {@linkcode NICER_BY} (Linux only: there a
 * nice value is per thread, and `setPriority(0, ...)` is the calling thread's; elsewhere it
 * would be the whole process's). Needs the `getPriority` and `setPriority` sys permissions.
 */
export function lowerPriority(logger: Logger): void {
  if (Deno.build.os !== "linux") return;
  try {
    setPriority(0, Math.min(19, getPriority(0) + NICER_BY));
  } catch (error) {
    logger.info("A delivery thread keeps the daemon's scheduling priority: {error}", { error });
  }
}
