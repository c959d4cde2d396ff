/**
 * Opening a connection to the journal's database: the settings every connection shares, and
 * those of the two kinds, the writer's (the main thread's, which creates and migrates the
 * file) and a reader's (the delivery thread's, beside it).
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { dirname } from "node:path";
import type { Durability } from "./types.ts";
import { createPrivately } from "../file_mode.ts";

/**
 * The autocheckpoint (in pages, ~64 MiB) of a writer whose WAL another connection
 * checkpoints: it only rewinds a WAL that the other has mostly copied already.
 */
export const BACKSTOP_PAGES = 16_384;

/** How a connection is opened. */
export interface ConnectionOptions {
  /** Default `os`. */
  durability?: Durability | undefined;
  /** How long a statement waits for another connection's lock, in ms. Default 1000. */
  busyTimeoutMs?: number | undefined;
  /** `writer`: the journal's writing connection; `reader`: one that only reads beside it. */
  role: "writer" | "reader";
}

/**
 * Opens the database at `path` (creating it and its folder if needed) with WAL and the
 * settings of `options.role`. Returns it and the busy timeout it set. No schema is touched:
 * the writer migrates it afterwards (see `schema.ts`).
 */
export function openConnection(
  path: string,
  options: ConnectionOptions,
): { db: DatabaseSync; busyTimeoutMs: number } {
  if (path !== ":memory:") {
    Deno.mkdirSync(dirname(path), { recursive: true });
    if (options.role !== "reader") createPrivately(path);
  }
  const db = new DatabaseSync(path);
  try {
    // `os` never fsyncs, not even while creating the file (hence first). With NORMAL, the
    // checkpoints' fsyncs stall the listener's WAL appends (see docs/performance.md).
    db.exec(`PRAGMA synchronous = ${options.durability === "fsync" ? "FULL" : "OFF"}`);
    db.exec("PRAGMA journal_mode = WAL");
    const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 1000);
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    // Checkpoints every ~40 MB of WAL instead of ~4 MB: fewer, larger ones.
    db.exec("PRAGMA wal_autocheckpoint = 10000");
    if (options.role === "reader") {
      // SQLite empties a WAL reader's page cache whenever another connection has committed
      // since its last read, which the daemon does every few ms under load: SQLite's
      // default 2 MiB would hold pages of one pending query at most, and stay resident.
      db.exec("PRAGMA cache_size = -256");
    } else {
      // SQLite's default 2 MiB: larger caches made appends no faster (bench/journal_bench.ts)
      // and stay resident (see sqlite_sync's cache for the RSS).
      db.exec("PRAGMA cache_size = -2048");
    }
    return { db, busyTimeoutMs };
  } catch (error) {
    db.close();
    throw error;
  }
}
