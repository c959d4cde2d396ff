/**
 * A read-only connection to the journal, beside the writer's: the delivery thread reads
 * pending deliveries through one and checkpoints the WAL from it, off the thread that answers
 * callbacks; the CLI's `dead`, `show` and `quarantine` and the admin status page read what
 * operators look at through one; tests and benchmarks read the counts through one.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { openConnection } from "./connection.ts";
import {
  type CallbackDetail,
  callbackDetail,
  type DeadLetter,
  deadLetters,
  lastErrors,
  type ListOptions,
  type PluginError,
  quarantined,
  type QuarantinedRequest,
} from "./inspect.ts";
import { journalStatus } from "./maintenance.ts";
import { DeliveryReads } from "./reads.ts";
import type { Durability, JournalStatus, PendingDelivery } from "./types.ts";

/** Options of {@linkcode JournalReader.open}. */
export interface ReaderOptions {
  /** The writer's durability, for the checkpoints' fsyncs. Default `os`. */
  durability?: Durability;
  /** How long a read waits for a lock. Default 1000. */
  busyTimeoutMs?: number;
}

/**
 * A connection that only reads (and checkpoints) a journal that its writer created and
 * migrated: no migration, no dedup keys in memory, a 256 KiB page cache. Open with
 * {@linkcode JournalReader.open}; close with `await using` or `close()`.
 */
export class JournalReader implements AsyncDisposable {
  readonly path: string;
  #db: DatabaseSync;
  #reads: DeliveryReads;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#reads = new DeliveryReads(db);
  }

  /** Opens the journal at `path`, which its writer has created (and migrated) already. */
  static open(path: string, options: ReaderOptions = {}): JournalReader {
    const { db } = openConnection(path, {
      durability: options.durability,
      busyTimeoutMs: options.busyTimeoutMs,
      role: "reader",
    });
    try {
      return new JournalReader(path, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Pending deliveries of `plugin` with a callback id above `afterId`, in journal order. */
  pending(plugin: string, afterId: number, limit: number): PendingDelivery[] {
    return this.#reads.pending(plugin, afterId, limit);
  }

  /** A number that changes whenever `replay` marks callbacks for delivery again. */
  replayGeneration(): number {
    return this.#reads.replayGeneration();
  }

  /** Counts for `status`, with the inbox as far as the writer has recorded it indexed. */
  status(): JournalStatus {
    return journalStatus(this.#db, this.path);
  }

  /** The dead letters, newest callback first (see `inspect.ts`). */
  deadLetters(options: ListOptions = {}): DeadLetter[] {
    return deadLetters(this.#db, options);
  }

  /** The callback with journal id `id` and its deliveries not done; undefined when absent. */
  callback(id: number): CallbackDetail | undefined {
    return callbackDetail(this.#db, id);
  }

  /** The quarantined requests, newest first. */
  quarantined(options: ListOptions = {}): QuarantinedRequest[] {
    return quarantined(this.#db, options);
  }

  /** Each plugin's most recent error (see `inspect.ts`). */
  lastErrors(): PluginError[] {
    return lastErrors(this.#db);
  }

  /**
   * Copies the WAL into the database file as far as readers allow (PASSIVE: never waits for,
   * or blocks, the writer; with `fsync` durability it fsyncs the file).
   */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /** Closes the connection; closing again does nothing. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
