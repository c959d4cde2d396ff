/**
 * The journal's writer: the one connection that writes the database (the main thread's in
 * `serve`; the CLI's for `replay`). It creates and migrates the file, stores callbacks
 * (through the inbox when it has one), records delivery outcomes, prunes, replays, and
 * commits every write through the group commit (`group_commit.ts`).
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { CallbackAppender } from "./append.ts";
import { BACKSTOP_PAGES, openConnection } from "./connection.ts";
import { dedupHash, DedupKeys, MERGE_CHUNK, STAGED_KEYS } from "./dedup.ts";
import { closedError, CommitQueue } from "./group_commit.ts";
import {
  FAILING_BUSY_TIMEOUT_MS,
  InboxIndexer,
  type InboxOptions,
  type IndexedNow,
} from "./indexer.ts";
import { journalStatus, pruneSome, replay, type ReplayOptions } from "./maintenance.ts";
import { DeliveryReads } from "./reads.ts";
import { migrate } from "./schema.ts";
import {
  type Accepted,
  type AppendResult,
  type CallbackRecord,
  type Durability,
  type JournalStatus,
  JournalUnavailableError,
  type PendingDelivery,
  type QuarantineRecord,
  type ReplaySelection,
} from "./types.ts";

/** Options of {@linkcode JournalWriter.open}. */
export interface WriterOptions {
  /** Default `os`. */
  durability?: Durability;
  /**
   * How long a write waits for another connection's lock (a `replay` beside `serve`)
   * before the commit fails. It blocks the event loop, so it stays short. Default 1000.
   */
  busyTimeoutMs?: number;
  /**
   * Another connection checkpoints the WAL (see `JournalReader.checkpoint`): this
   * one only rewinds it every {@linkcode BACKSTOP_PAGES}. The daemon's delivery worker does
   * it, on its own thread. Default false.
   */
  checkpointedElsewhere?: boolean;
  /**
   * Internal, for tests: replaces {@linkcode dedupHash} (e.g. to force collisions). A file
   * must always be opened with the same function.
   */
  hash?: (key: string) => number;
  /** Internal, for tests: the wall clock dead letters are dated by (default `Date.now`). */
  now?: () => number;
  /** Internal, for tests: staged dedup keys that start a merge (default 16384). */
  stagedKeys?: number;
  /**
   * Internal, for tests: keys of the bucket being merged that one commit merges, at least
   * (default 128; twice the keys the commit adds if that is more).
   */
  mergeChunk?: number;
  /**
   * Store callbacks through the inbox (see `inbox.ts` and {@linkcode JournalWriter.accept}).
   * Only one process may: `serve`.
   */
  inbox?: InboxOptions;
}

function noop(): void {}

/**
 * The journal's writing connection. Open with {@linkcode JournalWriter.open}; close with
 * `await using` or `close()`. Every write resolves after its commit.
 */
export class JournalWriter implements AsyncDisposable {
  readonly path: string;
  #db: DatabaseSync;
  #queue: CommitQueue;
  /** Callback ids per plugin marked delivered since the last commit. */
  #delivered = new Map<string, number[]>();
  #listeners = new Set<() => void>();
  #keys: DedupKeys;
  #append: CallbackAppender;
  #reads: DeliveryReads;
  /** The inbox and its indexing, if callbacks go through one; see `accept`. */
  #indexer: InboxIndexer | undefined;
  /** The connection's busy timeout, and whether it is cut short while indexing fails. */
  #busyTimeoutMs: number;
  #shortTimeout = false;
  #now: () => number;
  #stmt: {
    begin: StatementSync;
    commit: StatementSync;
    deleteDeliveries: StatementSync;
    retryDelivery: StatementSync;
    killDelivery: StatementSync;
    insertQuarantine: StatementSync;
  };

  private constructor(
    path: string,
    db: DatabaseSync,
    busyTimeoutMs: number,
    options: WriterOptions,
  ) {
    this.path = path;
    this.#db = db;
    this.#busyTimeoutMs = busyTimeoutMs;
    this.#now = options.now ?? Date.now;
    this.#queue = new CommitQueue(() => this.#flush());
    // Loads the dedup keys now rather than in the first commit, which would wait.
    this.#keys = new DedupKeys(db, {
      stagedKeys: options.stagedKeys ?? STAGED_KEYS,
      mergeChunk: options.mergeChunk ?? MERGE_CHUNK,
    });
    this.#append = new CallbackAppender(db, this.#keys, options.hash ?? dedupHash);
    this.#reads = new DeliveryReads(db);
    this.#stmt = {
      begin: db.prepare("BEGIN IMMEDIATE"),
      commit: db.prepare("COMMIT"),
      deleteDeliveries: db.prepare(
        `DELETE FROM deliveries
         WHERE plugin = ? AND callback_id IN (SELECT value FROM json_each(?))`,
      ),
      retryDelivery: db.prepare(
        `UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ?
         WHERE plugin = ? AND callback_id = ?`,
      ),
      killDelivery: db.prepare(
        `UPDATE deliveries SET state = 'dead', attempts = ?, next_at = ?, last_error = ?
         WHERE plugin = ? AND callback_id = ?`,
      ),
      insertQuarantine: db.prepare(
        `INSERT INTO quarantine (received_at, sdk_app_id, command, query, reason, body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  /**
   * Opens (creating if needed) the journal at `path`, its folder too, and migrates it to
   * `SCHEMA_VERSION`; with `inbox`, opens the inbox and indexes what it holds.
   */
  static open(path: string, options: WriterOptions = {}): JournalWriter {
    const { db, busyTimeoutMs } = openConnection(path, {
      durability: options.durability,
      busyTimeoutMs: options.busyTimeoutMs,
      role: "writer",
    });
    try {
      migrate(db, options.hash ?? dedupHash);
      const writer = new JournalWriter(path, db, busyTimeoutMs, options);
      if (options.checkpointedElsewhere) {
        db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      }
      if (options.inbox !== undefined) {
        writer.#indexer = InboxIndexer.open(
          path,
          options.durability ?? "os",
          db,
          writer.#queue,
          writer.#append,
          options.inbox,
        );
      }
      return writer;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /**
   * Copies the WAL into the database file as far as readers allow (PASSIVE: never waits for,
   * or blocks, the writer; with `fsync` durability it fsyncs the file).
   */
  checkpoint(): void {
    this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /** Calls `listener` after each commit that stored new callbacks or deliveries. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stores a callback and one pending delivery per routed plugin, unless its dedup key is
   * already stored. Resolves after the commit; rejects with {@linkcode JournalUnavailableError}.
   * Not for a writer with an inbox (see {@linkcode JournalWriter.accept}).
   */
  append(record: CallbackRecord): Promise<AppendResult> {
    if (this.#indexer !== undefined) {
      return Promise.reject(
        new TypeError("This journal stores callbacks through its inbox: accept()"),
      );
    }
    return this.#queue.enqueue<AppendResult>(record);
  }

  /**
   * Stores a callback, like {@linkcode JournalWriter.append}. With an inbox, it resolves once
   * the callback's batch is in the inbox: with what `append` would have, when the batch was
   * indexed at once too (the inbox was indexed up to it and the listener not busy), else
   * with `"deferred"`; the batch is then indexed later (and `onIndexed` told).
   */
  accept(record: CallbackRecord): Promise<Accepted> {
    return this.#queue.enqueue<Accepted>(record);
  }

  /** Whether some accepted callbacks are not indexed yet, and why indexing fails, if it does. */
  get indexing(): { backlogBytes: number; error: string | undefined } {
    return {
      backlogBytes: this.#indexer?.backlogBytes ?? 0,
      error: this.#indexer?.error,
    };
  }

  /** Keeps an authenticated request that failed its checks. Resolves with its id. */
  quarantine(record: QuarantineRecord): Promise<number> {
    return this.#queue.enqueue(() =>
      Number(
        this.#stmt.insertQuarantine.run(
          record.receivedAt,
          record.sdkAppId,
          record.command ?? null,
          record.query,
          record.reason,
          record.body,
        ).lastInsertRowid,
      )
    );
  }

  /** Records that `plugin` handled callback `id`. */
  markDelivered(plugin: string, id: number): Promise<void> {
    return this.markDeliveredMany(plugin, [id]);
  }

  /** Records that `plugin` handled each callback of `ids`; one promise for them all. */
  markDeliveredMany(plugin: string, ids: readonly number[]): Promise<void> {
    if (this.#queue.closed) return this.#queue.enqueue(noop);
    // Collected and deleted with one statement per plugin at the next commit: a drain
    // records tens of thousands of these a second.
    const queued = this.#delivered.get(plugin);
    if (queued === undefined) this.#delivered.set(plugin, [...ids]);
    else for (const id of ids) queued.push(id);
    return this.#queue.enqueue(noop, true);
  }

  /** Records a failed attempt that will be retried at `nextAt`. */
  markRetry(
    plugin: string,
    id: number,
    update: { attempts: number; nextAt: number; error: string },
  ): Promise<void> {
    return this.#queue.enqueue(() => {
      this.#stmt.retryDelivery.run(update.attempts, update.nextAt, update.error, plugin, id);
    }, true);
  }

  /**
   * Turns a delivery into a dead letter, kept with its last error and, in `next_at`, when it
   * died (the commit's time).
   */
  markDead(plugin: string, id: number, update: { attempts: number; error: string }): Promise<void> {
    return this.#queue.enqueue(() => {
      this.#stmt.killDelivery.run(update.attempts, this.#now(), update.error, plugin, id);
    }, true);
  }

  /** Pending deliveries of `plugin` with a callback id above `afterId`, in journal order. */
  pending(plugin: string, afterId: number, limit: number): PendingDelivery[] {
    return this.#reads.pending(plugin, afterId, limit);
  }

  /** A number that changes whenever `replay` marks callbacks for delivery again. */
  replayGeneration(): number {
    return this.#reads.replayGeneration();
  }

  /**
   * Marks the selected callbacks for delivery again and returns how many deliveries it
   * made pending; see `replay` in `maintenance.ts`. Commits on its own, in chunks, outside
   * the group commit.
   */
  replay(selection: ReplaySelection, options: ReplayOptions = {}): number {
    return replay(this.#db, selection, options);
  }

  /** Counts for `status` and the metrics. */
  status(): JournalStatus {
    return journalStatus(this.#db, this.path, this.#indexer?.mark);
  }

  /**
   * Deletes callbacks received before `callbacksBefore` that no plugin still waits for,
   * and dedup keys older than `dedupBefore`, a bounded number per call so the listener
   * never stalls. Returns how many rows it removed.
   */
  prune(callbacksBefore: number, dedupBefore: number, limit = 5_000): Promise<number> {
    return this.#queue.enqueue(() =>
      pruneSome(this.#db, this.#keys, callbacksBefore, dedupBefore, limit)
    );
  }

  /**
   * {@linkcode JournalWriter.prune} in batches of `batch` rows until nothing is left to
   * remove, letting other writes (the listener's) commit between batches. Resolves with the
   * total.
   */
  async pruneAll(
    callbacksBefore: number,
    dedupBefore: number,
    options: { batch?: number } = {},
  ): Promise<number> {
    const batch = options.batch ?? 1_000;
    let total = 0;
    for (;;) {
      const removed = await this.prune(callbacksBefore, dedupBefore, batch);
      total += removed;
      if (removed === 0 || this.#queue.closed) return total;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /**
   * Checks that a write can be committed now (for `/readyz`). It rewrites a 64 KiB row: on a
   * full disk a one-page write still fits in the WAL space a failed commit left behind, so a
   * small probe would say "ready" while every callback gets 503.
   */
  async probe(): Promise<void> {
    try {
      this.#indexer?.probe(65536);
    } catch (error) {
      throw new JournalUnavailableError((error as Error).message, { cause: error });
    }
    await this.#queue.enqueue(() => {
      this.#db.exec("INSERT OR REPLACE INTO probe (id, filler) VALUES (1, randomblob(65536))");
    });
  }

  /** Commits what is queued and closes the database (and the inbox). */
  close(): void {
    if (this.#queue.closed) return;
    this.#flush();
    this.#queue.close();
    this.#indexer?.close();
    this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** Commits the queued writes in one transaction (the group commit's flush). */
  #flush(): void {
    let batch = this.#queue.take();
    const delivered = this.#delivered;
    this.#delivered = new Map();
    if (batch.length === 0 || this.#queue.closed) {
      for (const write of batch) write.reject(closedError());
      return;
    }
    const indexer = this.#indexer;
    // With an inbox, the callbacks go there first (see InboxIndexer.route).
    let now: IndexedNow | undefined;
    if (indexer !== undefined) {
      ({ batch, now } = indexer.route(batch));
      if (batch.length === 0) return;
      indexer.begin();
    }
    // While indexing fails (a lock held elsewhere), commits give up sooner: each attempt
    // holds up the listener for as long as it waits.
    this.#shortenBusyTimeout(indexer?.error !== undefined);
    const results: unknown[] = [];
    try {
      this.#stmt.begin.run();
      this.#keys.sync();
      for (const [plugin, ids] of delivered) {
        this.#stmt.deleteDeliveries.run(plugin, JSON.stringify(ids));
      }
      // Consecutive appends go in together.
      let appends: CallbackRecord[] = [];
      for (const { work } of batch) {
        if (typeof work !== "function") {
          appends.push(work);
          continue;
        }
        if (appends.length > 0) results.push(...this.#append.run(appends));
        appends = [];
        results.push(work());
      }
      if (appends.length > 0) results.push(...this.#append.run(appends));
      indexer?.recordMark(now);
      this.#keys.mergeSome();
      this.#stmt.commit.run();
    } catch (error) {
      this.#keys.rolledBack();
      if (this.#db.isTransaction) {
        try {
          this.#db.exec("ROLLBACK");
        } catch {
          // The rollback failing leaves nothing else to undo: SQLite rolls back on close.
        }
      }
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new JournalUnavailableError(`Cannot write the journal: ${reason}`, {
        cause: error,
      });
      for (const write of batch) {
        // Those are in the inbox, stored: they are indexed later.
        if (now?.writes.includes(write)) write.resolve("deferred");
        else write.reject(failure);
      }
      indexer?.rolledBack(now, failure);
      return;
    }
    indexer?.committed(now);
    batch.forEach((write, i) => write.resolve(results[i]));
    for (const listener of this.#listeners) listener();
  }

  #shortenBusyTimeout(short: boolean): void {
    if (short === this.#shortTimeout) return;
    this.#db.exec(`PRAGMA busy_timeout = ${short ? FAILING_BUSY_TIMEOUT_MS : this.#busyTimeoutMs}`);
    this.#shortTimeout = short;
  }
}
