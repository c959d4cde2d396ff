/**
 * Indexing the inbox: the writer stores each batch of accepted callbacks in the inbox file
 * first (`inbox.ts`), then indexes it into the database, in the same commit when everything
 * before it is indexed and the listener has time, later (in chunks, between the listener's
 * commits) when it is saturated or indexing fails.
 *
 * Invariant: the database's `meta` rows `inbox_epoch`/`inbox_offset` say how far the inbox
 * is indexed, and are written in the same transaction as the rows indexed up to there, so a
 * crash neither loses nor repeats a batch.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { CallbackAppender } from "./append.ts";
import type { CommitQueue, QueuedWrite } from "./group_commit.ts";
import { Inbox, INBOX_HEADER_BYTES, inboxPath } from "./inbox.ts";
import { readInboxMark } from "./schema.ts";
import {
  type AppendResult,
  type CallbackRecord,
  type Durability,
  type InboxMark,
  JournalUnavailableError,
} from "./types.ts";

/** How a writer with an inbox indexes it. */
export interface InboxOptions {
  /**
   * Whether the listener is saturated now: batches accepted meanwhile are indexed later,
   * when it is not, or when the backlog passes `maxBacklogBytes`. Default: a batch of
   * {@linkcode BUSY_BATCH} callbacks or more was written within the last
   * {@linkcode BUSY_FOR_MS} (tests set their own).
   */
  busy?: () => boolean;
  /** Called after callbacks accepted as `"deferred"` are indexed, with what each became. */
  onIndexed?: (records: readonly CallbackRecord[], results: readonly AppendResult[]) => void;
  /** The backlog the inbox may hold while the listener is busy. Default 1 GiB. */
  maxBacklogBytes?: number;
  /** Once indexed, an inbox larger than this starts over in a new file. Default 64 MiB. */
  restartBytes?: number;
}

/**
 * Callbacks in one batch (those whose bodies were read in one turn of the event loop) from
 * which the listener counts as saturated, and for how long after such a batch. A steady
 * stream makes batches of one or two; a saturating load, batches of tens. Slow clients still
 * sending their bodies do not count, unlike requests in flight.
 */
const BUSY_BATCH = 8;
const BUSY_FOR_MS = 20;

/** Records indexed from the inbox per commit, at most: bounds how long one commit blocks. */
const INDEX_CHUNK = 512;
/** How often a busy listener is asked again whether the inbox may be indexed. */
const BUSY_RECHECK_MS = 5;
/** How long indexing waits after it failed (the database locked, the disk full). */
const INDEX_RETRY_MS = 1_000;
/**
 * How long a commit waits for another connection's lock once indexing has failed: the
 * listener waits with it, and the callbacks are safe in the inbox meanwhile.
 */
export const FAILING_BUSY_TIMEOUT_MS = 50;

/** Callbacks of a batch kept in its commit to be indexed at once, and where they end. */
export interface IndexedNow {
  writes: QueuedWrite[];
  end: number;
}

/** The writer's inbox and its indexing. Open with {@linkcode InboxIndexer.open}. */
export class InboxIndexer {
  #inbox: Inbox;
  #options: InboxOptions;
  #queue: CommitQueue;
  #append: CallbackAppender;
  #setMark: StatementSync;
  /** Inbox offset up to which batches are indexed (committed). */
  #indexed: number;
  /** A commit indexing inbox batches is queued. */
  #indexing = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Why the last indexing commit failed, until one succeeds. */
  #error: string | undefined;
  /** The inbox offset the open write transaction has indexed up to, to record at its end. */
  #markTo: number | undefined;
  /** Until when the listener counts as busy, by default (see {@linkcode BUSY_BATCH}). */
  #busyUntil = Number.NEGATIVE_INFINITY;
  #closed = false;

  private constructor(
    inbox: Inbox,
    resume: number,
    db: DatabaseSync,
    queue: CommitQueue,
    append: CallbackAppender,
    options: InboxOptions,
  ) {
    this.#inbox = inbox;
    this.#indexed = resume;
    this.#queue = queue;
    this.#append = append;
    this.#options = options;
    this.#setMark = db.prepare(
      `INSERT INTO meta (key, value) VALUES ('inbox_epoch', ?), ('inbox_offset', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }

  /**
   * Opens the inbox of the journal at `path` (see `Inbox.open`: only one process may) and
   * starts indexing what an earlier process stored and did not index. Index commits go
   * through `queue`; `append` stores their callbacks.
   */
  static open(
    path: string,
    durability: Durability,
    db: DatabaseSync,
    queue: CommitQueue,
    append: CallbackAppender,
    options: InboxOptions,
  ): InboxIndexer {
    const { inbox, resume } = Inbox.open(inboxPath(path), durability, readInboxMark(db));
    const indexer = new InboxIndexer(inbox, resume, db, queue, append, options);
    if (inbox.size > resume) indexer.#schedule(0);
    return indexer;
  }

  /** How far the inbox is indexed (committed). */
  get mark(): InboxMark {
    return { epoch: this.#inbox.epoch, offset: this.#indexed };
  }

  /** Bytes stored in the inbox and not indexed yet. */
  get backlogBytes(): number {
    return this.#inbox.size - this.#indexed;
  }

  /** Why indexing fails, while it does. */
  get error(): string | undefined {
    return this.#error;
  }

  /**
   * Stores the callbacks of `batch` in the inbox. They stay in the batch, to be indexed in this
   * commit, only if everything before them is indexed and the listener has time; otherwise
   * they are answered `"deferred"` (or rejected, if the inbox cannot be written). Returns what
   * is left to commit, and the callbacks indexed in it with the inbox offset they end at.
   */
  route(batch: QueuedWrite[]): { batch: QueuedWrite[]; now?: IndexedNow } {
    const writes = batch.filter((write) => typeof write.work !== "function");
    if (writes.length === 0) return { batch };
    const rest = batch.filter((write) => typeof write.work === "function");
    let range;
    try {
      range = this.#inbox.append(writes.map((write) => write.work as CallbackRecord));
    } catch (error) {
      const failure = new JournalUnavailableError((error as Error).message, { cause: error });
      for (const write of writes) write.reject(failure);
      return { batch: rest };
    }
    if (writes.length >= BUSY_BATCH) this.#busyUntil = performance.now() + BUSY_FOR_MS;
    if (
      range.start === this.#indexed && !this.#indexing && this.#error === undefined &&
      !this.#busy()
    ) {
      return { batch: [...rest, ...writes], now: { writes, end: range.end } };
    }
    for (const write of writes) write.resolve("deferred");
    this.#schedule(0);
    return { batch: rest };
  }

  /** A write transaction begins: nothing indexed in it yet. */
  begin(): void {
    this.#markTo = undefined;
  }

  /**
   * At the end of the open write transaction: records how far the inbox is indexed if this
   * transaction indexed any of it (`now`, or an indexing or restart commit).
   */
  recordMark(now: IndexedNow | undefined): void {
    if (now !== undefined) this.#markTo = now.end;
    if (this.#markTo !== undefined) this.#setMark.run(this.#inbox.epoch, this.#markTo);
  }

  /** The transaction committed: `now`'s callbacks are indexed. */
  committed(now: IndexedNow | undefined): void {
    if (now === undefined) return;
    this.#indexed = now.end;
    this.#restart();
  }

  /** The transaction failed: `now`'s callbacks stay in the inbox, to be indexed later. */
  rolledBack(now: IndexedNow | undefined, failure: JournalUnavailableError): void {
    this.#markTo = undefined;
    if (now !== undefined) this.#failed(failure);
  }

  /** Checks that a batch of `bytes` can be written to the inbox now; throws if not. */
  probe(bytes: number): void {
    this.#inbox.probe(bytes);
  }

  /** Stops indexing and closes the inbox (the writer committed what was queued before). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inbox.close();
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#indexing || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#indexSome();
    }, delayMs);
  }

  /** Indexes the next chunk of the inbox's backlog, unless the listener is busy. */
  #indexSome(): void {
    const inbox = this.#inbox;
    if (this.#indexing || this.#closed) return;
    const backlog = inbox.size - this.#indexed;
    if (backlog <= 0) return;
    const options = this.#options;
    if (
      backlog <= (options.maxBacklogBytes ?? 2 ** 30) && this.#error === undefined &&
      this.#busy()
    ) {
      this.#schedule(BUSY_RECHECK_MS);
      return;
    }
    let read;
    try {
      read = inbox.read(this.#indexed, INDEX_CHUNK);
    } catch (error) {
      this.#failed(error);
      return;
    }
    const { records, next } = read;
    this.#indexing = true;
    this.#queue.enqueue<AppendResult[]>(() => {
      const results = this.#append.run(records);
      this.#markTo = next;
      return results;
    }).then((results) => {
      this.#indexing = false;
      this.#indexed = next;
      this.#error = undefined;
      this.#options.onIndexed?.(records, results);
      if (inbox.size > next) this.#schedule(0);
      else this.#restart();
    }, (error) => {
      this.#indexing = false;
      this.#failed(error);
    });
  }

  #busy(): boolean {
    const busy = this.#options.busy;
    return busy !== undefined ? busy() : performance.now() < this.#busyUntil;
  }

  #failed(error: unknown): void {
    this.#error = error instanceof Error ? error.message : String(error);
    this.#schedule(INDEX_RETRY_MS);
  }

  /** A large inbox, all indexed, starts over in a new file. */
  #restart(): void {
    const inbox = this.#inbox;
    if (inbox.size < (this.#options.restartBytes ?? 64 * 2 ** 20)) return;
    if (inbox.size !== this.#indexed || this.#closed) return;
    try {
      inbox.restart();
    } catch {
      // A read-only folder, say: the same file grows on, and this is tried again next time.
      return;
    }
    this.#indexed = INBOX_HEADER_BYTES;
    // Any commit records the new epoch; this one, in case none comes soon.
    this.#queue.enqueue(() => {
      this.#markTo = INBOX_HEADER_BYTES;
    }, true).catch(() => {});
  }
}
