/**
 * The durable journal: every accepted callback, its per-plugin delivery state, the dedup
 * keys and the quarantine, in one SQLite database in WAL mode.
 *
 * Writes are queued and committed together (group commit): every request that arrives
 * while a commit is being prepared shares it, so the cost of a commit is paid once per
 * batch, not once per callback. A write's promise settles only after its commit.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { BACKSTOP_PAGES, type Checkpointer, startCheckpointer } from "./checkpointer.ts";

/** `os`: survives a process crash; `fsync`: survives power loss. */
export type Durability = "os" | "fsync";

/** A verified callback to store. */
export interface CallbackRecord {
  sdkAppId: string;
  command: string;
  receivedAt: number;
  clientIp?: string | undefined;
  optPlatform?: string | undefined;
  body: string;
  /** Unique per (app, command, natural key): a second record with it is a duplicate. */
  dedupKey: string;
  /** The ordering group, if any. */
  groupKey?: string | undefined;
  /** The plugins the callback is routed to: one pending delivery each. */
  plugins: readonly string[];
}

/** An authenticated request that could not be accepted, kept raw. */
export interface QuarantineRecord {
  sdkAppId: string;
  command?: string | undefined;
  receivedAt: number;
  /** The query string without `Sign`. */
  query: string;
  reason: string;
  body: Uint8Array;
}

/** The outcome of {@linkcode Journal.append}. */
export interface AppendResult {
  id: number;
  duplicate: boolean;
}

/** A pending delivery joined with its callback. */
export interface PendingDelivery {
  id: number;
  receivedAt: number;
  sdkAppId: string;
  command: string;
  groupKey: string | null;
  clientIp: string | null;
  optPlatform: string | null;
  body: string;
  /** Attempts made so far (0 before the first). */
  attempts: number;
  /** Not before this time (ms since epoch). */
  nextAt: number;
}

/** Per-plugin delivery counts. */
export interface PluginStatus {
  plugin: string;
  pending: number;
  dead: number;
  oldestPendingAt: number | null;
}

/** The journal's size and state, for `status`. */
export interface JournalStatus {
  callbacks: number;
  quarantined: number;
  bytes: number;
  plugins: PluginStatus[];
}

/** Which callbacks `replay` selects. */
export interface ReplaySelection {
  /** Plugins to deliver to (with their `on` patterns, to route callbacks without a row). */
  plugins: readonly { name: string; matches(command: string): boolean }[];
  /** Only callbacks whose command this accepts. */
  command?: (command: string) => boolean;
  since?: number;
  until?: number;
  /** Turn dead letters back into pending ones instead of re-delivering delivered callbacks. */
  dead?: boolean;
}

/** How far a {@linkcode Journal.replay} has got. */
export interface ReplayProgress {
  /** Callbacks looked at so far. */
  scanned: number;
  /** Callbacks in the time range. */
  total: number;
  /** Deliveries made pending so far. */
  selected: number;
}

/** Thrown when the journal cannot be written; the callback was not stored. */
export class JournalUnavailableError extends Error {
  override name = "JournalUnavailableError";
}

interface QueuedWrite {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

function noop(): void {}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS callbacks (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT NOT NULL,
  group_key TEXT,
  client_ip TEXT,
  opt_platform TEXT,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_received_at ON callbacks (received_at);
CREATE TABLE IF NOT EXISTS dedup (
  key TEXT PRIMARY KEY,
  callback_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_received_at ON dedup (received_at);
CREATE TABLE IF NOT EXISTS deliveries (
  plugin TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  PRIMARY KEY (plugin, callback_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_callback_id ON deliveries (callback_id);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT,
  query TEXT NOT NULL,
  reason TEXT NOT NULL,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('replay_generation', 0);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
`;

/** Options of {@linkcode Journal.open}. */
export interface JournalOptions {
  /** Default `os`. */
  durability?: Durability;
  /**
   * How long a write waits for another connection's lock (a `replay` beside `serve`)
   * before the commit fails. It blocks the event loop, so it stays short. Default 1000.
   */
  busyTimeoutMs?: number;
  /**
   * Checkpoint the WAL from a worker thread instead of inside commits, so that a
   * checkpoint's fsyncs never delay an answer. For the daemon; default false.
   */
  checkpointer?: boolean;
  /** Told what went wrong when something degrades without failing (the checkpointer stops). */
  onWarning?: (message: string) => void;
}

/** The SQLite journal. Open with {@linkcode Journal.open}; close with `await using` or `close()`. */
export class Journal implements AsyncDisposable {
  readonly path: string;
  #db: DatabaseSync;
  #queue: QueuedWrite[] = [];
  /** Callback ids per plugin marked delivered since the last commit. */
  #delivered = new Map<string, number[]>();
  #scheduled = false;
  #checkpointer: Checkpointer | undefined;
  #closed = false;
  #listeners = new Set<() => void>();
  #stmt: {
    findDedup: StatementSync;
    insertCallback: StatementSync;
    insertDedup: StatementSync;
    insertDelivery: StatementSync;
    deleteDeliveries: StatementSync;
    retryDelivery: StatementSync;
    killDelivery: StatementSync;
    pending: StatementSync;
    insertQuarantine: StatementSync;
    generation: StatementSync;
  };

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#stmt = {
      findDedup: db.prepare("SELECT callback_id FROM dedup WHERE key = ?"),
      insertCallback: db.prepare(
        `INSERT INTO callbacks (received_at, sdk_app_id, command, group_key, client_ip, opt_platform, body)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertDedup: db.prepare("INSERT INTO dedup (key, callback_id, received_at) VALUES (?, ?, ?)"),
      insertDelivery: db.prepare("INSERT INTO deliveries (plugin, callback_id) VALUES (?, ?)"),
      deleteDeliveries: db.prepare(
        `DELETE FROM deliveries
         WHERE plugin = ? AND callback_id IN (SELECT value FROM json_each(?))`,
      ),
      retryDelivery: db.prepare(
        `UPDATE deliveries SET attempts = ?, next_at = ?, last_error = ?
         WHERE plugin = ? AND callback_id = ?`,
      ),
      killDelivery: db.prepare(
        `UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?
         WHERE plugin = ? AND callback_id = ?`,
      ),
      pending: db.prepare(
        `SELECT c.id, c.received_at AS receivedAt, c.sdk_app_id AS sdkAppId, c.command,
                c.group_key AS groupKey, c.client_ip AS clientIp, c.opt_platform AS optPlatform,
                c.body, d.attempts, d.next_at AS nextAt
         FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
         WHERE d.plugin = ? AND d.state = 'pending' AND d.callback_id > ?
         ORDER BY d.callback_id LIMIT ?`,
      ),
      insertQuarantine: db.prepare(
        `INSERT INTO quarantine (received_at, sdk_app_id, command, query, reason, body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      generation: db.prepare("SELECT value FROM meta WHERE key = 'replay_generation'"),
    };
  }

  /** Opens (creating if needed) the journal at `path`; its folder is created too. */
  static open(path: string, options: JournalOptions = {}): Journal {
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 1000)}`);
      // Checkpoints (which fsync) every ~40 MB of WAL instead of ~4 MB: fewer, larger ones.
      // With the checkpointer worker they happen there instead; this stays as the fallback.
      db.exec("PRAGMA wal_autocheckpoint = 10000");
      db.exec(`PRAGMA synchronous = ${options.durability === "fsync" ? "FULL" : "NORMAL"}`);
      db.exec(SCHEMA);
      const journal = new Journal(path, db);
      if (options.checkpointer && path !== ":memory:") {
        journal.#startCheckpointer(options.onWarning);
      }
      return journal;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  #startCheckpointer(onWarning: ((message: string) => void) | undefined): void {
    this.#checkpointer = startCheckpointer(this.path, {
      onReady: () => {
        if (!this.#closed) this.#db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      },
      onFailure: (reason) => {
        // Checkpoints go back inside commits: slower answers now and then, nothing lost.
        if (!this.#closed) this.#db.exec("PRAGMA wal_autocheckpoint = 10000");
        onWarning?.(`The journal's checkpointer stopped; commits checkpoint again: ${reason}`);
      },
    });
  }

  /** Calls `listener` after each commit that stored new callbacks or deliveries. */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stores a callback and one pending delivery per routed plugin, unless its dedup key is
   * already stored. Resolves after the commit; rejects with {@linkcode JournalUnavailableError}.
   */
  append(record: CallbackRecord): Promise<AppendResult> {
    return this.#enqueue(() => {
      const found = this.#stmt.findDedup.get(record.dedupKey) as
        | { callback_id: number }
        | undefined;
      if (found !== undefined) return { id: found.callback_id, duplicate: true };
      const id = Number(
        this.#stmt.insertCallback.run(
          record.receivedAt,
          record.sdkAppId,
          record.command,
          record.groupKey ?? null,
          record.clientIp ?? null,
          record.optPlatform ?? null,
          record.body,
        ).lastInsertRowid,
      );
      this.#stmt.insertDedup.run(record.dedupKey, id, record.receivedAt);
      for (const plugin of record.plugins) this.#stmt.insertDelivery.run(plugin, id);
      return { id, duplicate: false };
    });
  }

  /** Keeps an authenticated request that failed its checks. Resolves with its id. */
  quarantine(record: QuarantineRecord): Promise<number> {
    return this.#enqueue(() =>
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
    if (this.#closed) return this.#enqueue(noop);
    // Collected and deleted with one statement per plugin at the next commit: a drain
    // records tens of thousands of these a second.
    const ids = this.#delivered.get(plugin);
    if (ids === undefined) this.#delivered.set(plugin, [id]);
    else ids.push(id);
    return this.#enqueue(noop);
  }

  /** Records a failed attempt that will be retried at `nextAt`. */
  markRetry(
    plugin: string,
    id: number,
    update: { attempts: number; nextAt: number; error: string },
  ): Promise<void> {
    return this.#enqueue(() => {
      this.#stmt.retryDelivery.run(update.attempts, update.nextAt, update.error, plugin, id);
    });
  }

  /** Turns a delivery into a dead letter, kept with its last error. */
  markDead(plugin: string, id: number, update: { attempts: number; error: string }): Promise<void> {
    return this.#enqueue(() => {
      this.#stmt.killDelivery.run(update.attempts, update.error, plugin, id);
    });
  }

  /** Pending deliveries of `plugin` with a callback id above `afterId`, in journal order. */
  pending(plugin: string, afterId: number, limit: number): PendingDelivery[] {
    return this.#stmt.pending.all(plugin, afterId, limit) as unknown as PendingDelivery[];
  }

  /** A number that changes whenever `replay` marks callbacks for delivery again. */
  replayGeneration(): number {
    return (this.#stmt.generation.get() as { value: number }).value;
  }

  /**
   * Marks the selected callbacks for delivery again and returns how many deliveries it
   * made pending. Works beside a running `serve`, which notices the change: it commits in
   * chunks of `chunk` callbacks so that `serve`'s own commits never wait long, and calls
   * `onProgress` after each chunk.
   */
  replay(
    selection: ReplaySelection,
    options: { chunk?: number; onProgress?: (progress: ReplayProgress) => void } = {},
  ): number {
    const since = selection.since ?? 0;
    const until = selection.until ?? Number.MAX_SAFE_INTEGER;
    const accepts = selection.command ?? (() => true);
    const chunk = options.chunk ?? 5_000;
    const names = new Set(selection.plugins.map((plugin) => plugin.name));
    const total = (this.#db.prepare(
      "SELECT COUNT(*) AS n FROM callbacks WHERE received_at BETWEEN ? AND ?",
    ).get(since, until) as { n: number }).n;
    const scan = this.#db.prepare(
      `SELECT id, command FROM callbacks WHERE id > ? AND received_at BETWEEN ? AND ?
       ORDER BY id LIMIT ?`,
    );
    const deadOf = this.#db.prepare(
      "SELECT plugin FROM deliveries WHERE callback_id = ? AND state = 'dead'",
    );
    const revive = this.#db.prepare(
      `UPDATE deliveries SET state = 'pending', attempts = 0, next_at = 0
       WHERE plugin = ? AND callback_id = ?`,
    );
    const upsert = this.#db.prepare(
      `INSERT INTO deliveries (plugin, callback_id) VALUES (?, ?)
       ON CONFLICT (plugin, callback_id) DO UPDATE SET state = 'pending', attempts = 0, next_at = 0`,
    );
    let selected = 0;
    let scanned = 0;
    let afterId = 0;
    for (;;) {
      this.#db.exec("BEGIN IMMEDIATE");
      let rows: { id: number; command: string }[];
      try {
        rows = scan.all(afterId, since, until, chunk) as { id: number; command: string }[];
        for (const row of rows) {
          if (!accepts(row.command)) continue;
          if (selection.dead) {
            for (const { plugin } of deadOf.all(row.id) as { plugin: string }[]) {
              if (!names.has(plugin)) continue;
              revive.run(plugin, row.id);
              selected++;
            }
          } else {
            for (const plugin of selection.plugins) {
              if (!plugin.matches(row.command)) continue;
              upsert.run(plugin.name, row.id);
              selected++;
            }
          }
        }
        if (rows.length < chunk) {
          this.#db.exec("UPDATE meta SET value = value + 1 WHERE key = 'replay_generation'");
        }
        this.#db.exec("COMMIT");
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
      scanned += rows.length;
      afterId = rows.at(-1)?.id ?? afterId;
      options.onProgress?.({ scanned, total, selected });
      if (rows.length < chunk) return selected;
    }
  }

  /** Counts for `status` and the metrics. */
  status(): JournalStatus {
    const one = (sql: string): number => (this.#db.prepare(sql).get() as { n: number }).n;
    const plugins = this.#db.prepare(
      `SELECT d.plugin,
              SUM(d.state = 'pending') AS pending,
              SUM(d.state = 'dead') AS dead,
              MIN(CASE WHEN d.state = 'pending' THEN c.received_at END) AS oldestPendingAt
       FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
       GROUP BY d.plugin ORDER BY d.plugin`,
    ).all() as unknown as PluginStatus[];
    return {
      callbacks: one("SELECT COUNT(*) AS n FROM callbacks"),
      quarantined: one("SELECT COUNT(*) AS n FROM quarantine"),
      bytes: one(
        "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
      ),
      plugins,
    };
  }

  /**
   * Deletes callbacks received before `callbacksBefore` that no plugin still waits for,
   * and dedup keys older than `dedupBefore`, a bounded number per call so the listener
   * never stalls. Returns how many rows it removed.
   */
  prune(callbacksBefore: number, dedupBefore: number, limit = 5_000): Promise<number> {
    return this.#enqueue(() => {
      const callbacks = this.#db.prepare(
        `DELETE FROM callbacks WHERE id IN (
           SELECT id FROM callbacks c WHERE c.received_at < ?
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.callback_id = c.id)
           LIMIT ?)`,
      ).run(callbacksBefore, limit).changes;
      const dedup = this.#db.prepare(
        `DELETE FROM dedup WHERE key IN (
           SELECT key FROM dedup WHERE received_at < ? LIMIT ?)`,
      ).run(dedupBefore, limit).changes;
      return Number(callbacks) + Number(dedup);
    });
  }

  /**
   * {@linkcode Journal.prune} in batches of `batch` rows until nothing is left to remove,
   * letting other writes (the listener's) commit between batches. Resolves with the total.
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
      if (removed === 0 || this.#closed) return total;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /**
   * Checks that a write can be committed now (for `/readyz`). It rewrites a 64 KiB row: on a
   * full disk a one-page write still fits in the WAL space a failed commit left behind, so a
   * small probe would say "ready" while every callback gets 503.
   */
  async probe(): Promise<void> {
    await this.#enqueue(() => {
      this.#db.exec("INSERT OR REPLACE INTO probe (id, filler) VALUES (1, randomblob(65536))");
    });
  }

  #enqueue<T>(run: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new JournalUnavailableError("The journal is closed"));
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After the I/O already polled is handled, so every request read in this turn
        // shares the commit; setImmediate, because a setTimeout(0) waits a millisecond or
        // more in Deno and the answer waits with it.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    const delivered = this.#delivered;
    this.#queue = [];
    this.#delivered = new Map();
    if (batch.length === 0 || this.#closed) {
      for (const write of batch) write.reject(new JournalUnavailableError("The journal is closed"));
      return;
    }
    const results: unknown[] = [];
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const [plugin, ids] of delivered) {
        this.#stmt.deleteDeliveries.run(plugin, JSON.stringify(ids));
      }
      for (const write of batch) results.push(write.run());
      this.#db.exec("COMMIT");
    } catch (error) {
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
      for (const write of batch) write.reject(failure);
      return;
    }
    batch.forEach((write, i) => write.resolve(results[i]));
    for (const listener of this.#listeners) listener();
  }

  /** Commits what is queued and closes the database. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#checkpointer?.stop();
    this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
