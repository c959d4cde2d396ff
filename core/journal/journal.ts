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
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { Inbox, INBOX_HEADER_BYTES, inboxBacklog, inboxPath } from "./inbox.ts";

/**
 * `os`: survives a process crash, and nothing is ever fsynced (`synchronous = OFF`): a power
 * loss can lose the last writes and, since nothing orders them on disk, damage the file.
 * `fsync`: every commit is fsynced (`synchronous = FULL`) and survives power loss.
 */
export type Durability = "os" | "fsync";

/** A verified callback to store. */
export interface CallbackRecord {
  sdkAppId: string;
  command: string;
  receivedAt: number;
  clientIp?: string | undefined;
  optPlatform?: string | undefined;
  body: string;
  /** `body` as received (its UTF-8), if at hand: the inbox stores it without encoding again. */
  bodyBytes?: Uint8Array | undefined;
  /** Unique per (app, command, natural key): a second record with it is a duplicate. */
  dedupKey: string;
  /** The ordering group, if any. */
  groupKey?: string | undefined;
  /** The plugins the callback is routed to: one pending delivery each. */
  plugins: readonly string[];
  /** How a decision callback was decided (the JSON of a `DecisionRecord`), if it is one. */
  decision?: string | undefined;
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

/**
 * The outcome of {@linkcode Journal.accept}: stored and indexed, or `"deferred"`: stored in
 * the inbox, to be indexed (and found a duplicate or not) later.
 */
export type Accepted = AppendResult | "deferred";

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
  /** How it was decided (JSON), for a decision callback. */
  decision: string | null;
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
  /** Callbacks stored in the inbox and not indexed yet (not counted in `callbacks`). */
  inbox: { records: number; bytes: number };
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
  /** What to run in the transaction, or a callback to append (see `#appendAll`). */
  work: (() => unknown) | CallbackRecord;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * Rows per multi-row INSERT, largest first: a batch of rows goes in as few statements as
 * these sizes allow. One statement per row cost about 4 µs more per callback (a callback and
 * its two deliveries; 10.3 against 6.6 µs in a scratch benchmark of 64-callback commits).
 */
const ROW_CHUNKS = [64, 16, 4, 1] as const;

/**
 * Multi-row `INSERT`s into one table's `columns`: rows go in with statements of
 * {@linkcode ROW_CHUNKS} rows, each prepared on first use.
 */
class RowInserts {
  #db: DatabaseSync;
  #head: string;
  #width: number;
  #statements = new Map<number, StatementSync>();

  constructor(db: DatabaseSync, table: string, columns: readonly string[]) {
    this.#db = db;
    this.#head = `INSERT INTO ${table} (${columns.join(", ")})`;
    this.#width = columns.length;
  }

  /**
   * Inserts `params` (one value per column and row, flattened). Returns the rowid of the
   * first row: SQLite numbers the rows of one write transaction's inserts one after another
   * (max + 1 each, no other writer meanwhile), so row k has that rowid + k.
   */
  run(params: SQLInputValue[]): number {
    const width = this.#width;
    const rows = params.length / width;
    let first = 0;
    let done = 0;
    for (const size of ROW_CHUNKS) {
      while (rows - done >= size) {
        const last = Number(
          this.#statement(size).run(...params.slice(done * width, (done + size) * width))
            .lastInsertRowid,
        );
        if (done === 0) first = last - size + 1;
        done += size;
      }
    }
    return first;
  }

  #statement(size: number): StatementSync {
    let statement = this.#statements.get(size);
    if (statement === undefined) {
      const row = `(${new Array(this.#width).fill("?").join(", ")})`;
      statement = this.#db.prepare(`${this.#head} VALUES ${new Array(size).fill(row).join(", ")}`);
      this.#statements.set(size, statement);
    }
    return statement;
  }
}

function noop(): void {}

/** A row of the `pending` statement, in its column order. */
type PendingRow = [
  id: number,
  receivedAt: number,
  sdkAppId: string,
  command: string,
  groupKey: string | null,
  clientIp: string | null,
  optPlatform: string | null,
  body: string,
  attempts: number,
  nextAt: number,
  decision: string | null,
];

/**
 * Makes `statement` return each row as an array (node:sqlite's `setReturnArrays`, which
 * Deno's types for it lack). A row as an object is built property by property in dictionary
 * mode: reading a window of 512 pending deliveries as arrays and building the objects in
 * JavaScript took 1.1 instead of 2.2 µs per row, and the objects read faster after.
 */
function returningArrays(statement: StatementSync): StatementSync {
  (statement as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(true);
  return statement;
}

function pendingDelivery(row: PendingRow): PendingDelivery {
  return {
    id: row[0],
    receivedAt: row[1],
    sdkAppId: row[2],
    command: row[3],
    groupKey: row[4],
    clientIp: row[5],
    optPlatform: row[6],
    body: row[7],
    decision: row[10],
    attempts: row[8],
    nextAt: row[9],
  };
}

/**
 * The autocheckpoint (in pages, ~64 MiB) of a connection whose WAL another one checkpoints:
 * it only rewinds a WAL that the other has mostly copied already.
 */
const BACKSTOP_PAGES = 16_384;

/**
 * How long a delivery outcome may wait for a commit to share (an answer's commit comes on
 * the next turn of the event loop): fewer, larger commits while callbacks trickle in.
 */
const LAZY_MS = 5;

/**
 * The layout this code writes, in `PRAGMA user_version`. 0 is a new file or one made before
 * versions (the text-keyed `dedup` table): {@linkcode Journal.open} migrates it.
 */
export const SCHEMA_VERSION = 3;

/**
 * Dedup keys (`dedup_keys`) are numbered in insertion order (`seq`, roughly time order) and
 * found by a 53-bit hash of the key; the full key is always compared before a callback counts
 * as a duplicate, so a hash collision costs one more row read, never a lost callback.
 *
 * The index by hash is kept in two parts, because an index on a random hash dirties one page
 * per new key in every commit (measured: about half the cost of an append). Recent keys are
 * *staged*: indexed in memory only, their rows written in `seq` order (sequential pages).
 * The staged keys are merged into `dedup_index` a hash range (a *bucket*, 1/16 of the hashes)
 * at a time, oldest first, a chunk per commit, each chunk sorted by hash, so that a merge
 * dirties each index page once for many keys. In bucket b,
 * every row with `seq <= dedup_merged.through` is in `dedup_index`; every later row is staged
 * (the memory index is rebuilt from that on open and after a failed commit).
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS callbacks (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  sdk_app_id TEXT NOT NULL,
  command TEXT NOT NULL,
  group_key TEXT,
  client_ip TEXT,
  opt_platform TEXT,
  body TEXT NOT NULL,
  decision TEXT
);
CREATE INDEX IF NOT EXISTS callbacks_received_at ON callbacks (received_at);
CREATE TABLE IF NOT EXISTS dedup_keys (
  seq INTEGER PRIMARY KEY,
  hash INTEGER NOT NULL,
  key TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dedup_index (
  hash INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (hash, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dedup_merged (bucket INTEGER PRIMARY KEY, through INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
  plugin TEXT NOT NULL,
  callback_id INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  PRIMARY KEY (plugin, callback_id)
) WITHOUT ROWID;
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

/**
 * The 53-bit hash of a dedup key stored in `dedup_keys.hash` (cyrb53: two 32-bit
 * multiplicative lanes). It is part of the file format: changing it needs a migration.
 */
export function dedupHash(key: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** Brings a journal to {@linkcode SCHEMA_VERSION}, in one transaction. */
function migrate(db: DatabaseSync, hash: (key: string) => number): void {
  const versionOf = (): number =>
    (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (versionOf() === SCHEMA_VERSION) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    // Read again under the write lock: another process may have just migrated it.
    const version = versionOf();
    if (version > SCHEMA_VERSION) {
      throw new Error(
        `The journal's schema version ${version} is newer than this imhookd's (${SCHEMA_VERSION})`,
      );
    }
    if (version < SCHEMA_VERSION) {
      db.exec(SCHEMA);
      const old = db.prepare(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'dedup'",
      ).get();
      if (old !== undefined) {
        // Version 0: dedup keyed by the whole key text. Oldest first, as appends number them.
        const insert = db.prepare(
          "INSERT INTO dedup_keys (hash, key, callback_id, received_at) VALUES (?, ?, ?, ?)",
        );
        const rows = db.prepare(
          "SELECT key, callback_id, received_at FROM dedup ORDER BY received_at, callback_id",
        ).iterate() as Iterable<{ key: string; callback_id: number; received_at: number }>;
        for (const row of rows) {
          insert.run(hash(row.key), row.key, row.callback_id, row.received_at);
        }
        db.exec("DROP TABLE dedup");
        // All of them indexed at once, nothing staged.
        db.exec(
          "INSERT INTO dedup_index (hash, seq) SELECT hash, seq FROM dedup_keys ORDER BY 1, 2",
        );
        const through = db.prepare("SELECT MAX(seq) AS n FROM dedup_keys").get() as {
          n: number | null;
        };
        const mark = db.prepare("INSERT INTO dedup_merged (bucket, through) VALUES (?, ?)");
        for (let bucket = 0; bucket < BUCKETS; bucket++) mark.run(bucket, through.n ?? 0);
      }
      // Version 0 also indexed deliveries by callback alone: one more page per commit. The
      // queries by callback now go through the primary key, plugin by plugin.
      db.exec("DROP INDEX IF EXISTS deliveries_callback_id");
      // Version 3: how a decision callback was decided (NULL for the others).
      const columns = db.prepare("SELECT name FROM pragma_table_info('callbacks')").all() as {
        name: string;
      }[];
      if (!columns.some((column) => column.name === "decision")) {
        db.exec("ALTER TABLE callbacks ADD COLUMN decision TEXT");
      }
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Up to this many keys are looked up in the index one by one; more, with one query. The one
 * query (`json_each`) made an append of one callback per commit about 10 µs slower.
 */
const FEW_KEYS = 8;

const BUCKETS = 16;
/** Hashes are below 2^53: 16 buckets of 2^49. */
const BUCKET_SPAN = 2 ** 49;
/** Staged keys that start a merge (one bucket at a time, until fewer are staged). */
const STAGED_KEYS = 16_384;
/**
 * Keys of the bucket being merged that one commit merges, at least. A whole bucket (~1,000
 * keys) in one commit held it, and the answers waiting for it, for 1-3 ms every 1,000
 * callbacks: p99 ack latency at 2,000/s was 5.2-5.6 ms with such merges, 4.1-4.2 ms with
 * none; 3.4-4.7 ms with chunks, against 3.9-8.5 ms (alternating runs).
 */
const MERGE_CHUNK = 128;

/** When staged dedup keys are merged (internal options of {@linkcode Journal.open}). */
interface DedupLimits {
  stagedKeys: number;
  mergeChunk: number;
}

function bucketOf(hash: number): number {
  const bucket = Math.floor(hash / BUCKET_SPAN) % BUCKETS;
  return bucket >= 0 ? bucket : Number.isNaN(bucket) ? 0 : bucket + BUCKETS;
}

/** The dedup keys (see the schema above). Used only inside the journal's write transaction. */
class DedupKeys {
  #limits: DedupLimits;
  /** The bucket being merged: its staged keys when the merge began, by seq, and how far. */
  #merging: { bucket: number; keys: [hash: number, seq: number][]; next: number } | undefined;
  /** Keys added in the current write transaction. */
  #added = 0;
  /** Per bucket: hash to the seq (or seqs, on a collision) of each staged row. */
  #staged: Map<number, number | number[]>[] = [];
  #stagedCount = 0;
  /** The highest seq known: every row above its bucket's `through`, up to this, is staged. */
  #through = 0;
  /** The memory index may not match the file (a commit failed): rebuild it. */
  #stale = true;
  #stmt: {
    maxSeq: StatementSync;
    marks: StatementSync;
    rowsAfter: StatementSync;
    bySeq: StatementSync;
    findIndexed: StatementSync;
    findIndexedMany: StatementSync;
    merge: StatementSync;
    mark: StatementSync;
    oldest: StatementSync;
    unindex: StatementSync;
    remove: StatementSync;
  };

  #insert: RowInserts;

  constructor(db: DatabaseSync, limits: DedupLimits) {
    this.#insert = new RowInserts(db, "dedup_keys", [
      "seq",
      "hash",
      "key",
      "callback_id",
      "received_at",
    ]);
    this.#limits = limits;
    this.#stmt = {
      maxSeq: db.prepare("SELECT MAX(seq) AS n FROM dedup_keys"),
      marks: db.prepare("SELECT bucket, through FROM dedup_merged"),
      rowsAfter: db.prepare("SELECT seq, hash FROM dedup_keys WHERE seq > ? ORDER BY seq"),
      bySeq: db.prepare("SELECT key, callback_id FROM dedup_keys WHERE seq = ?"),
      findIndexed: db.prepare(
        `SELECT k.callback_id FROM dedup_index i JOIN dedup_keys k ON k.seq = i.seq
         WHERE i.hash = ? AND k.key = ?`,
      ),
      findIndexedMany: db.prepare(
        `SELECT i.hash, k.key, k.callback_id FROM dedup_index i JOIN dedup_keys k ON k.seq = i.seq
         WHERE i.hash IN (SELECT value FROM json_each(?))`,
      ),
      // The staged rows all exist: a prune unstages what it deletes, and a failed commit
      // rebuilds the memory index. (Were one missing, the entry would match no key.)
      merge: db.prepare("INSERT OR IGNORE INTO dedup_index (hash, seq) VALUES (?, ?)"),
      mark: db.prepare(
        `INSERT INTO dedup_merged (bucket, through) VALUES (?, ?)
         ON CONFLICT (bucket) DO UPDATE SET through = MAX(through, excluded.through)`,
      ),
      // The oldest `limit` rows, those older than the window among them: no index on
      // received_at to keep up. A time out of order only keeps a key longer.
      oldest: db.prepare(
        `SELECT seq, hash FROM dedup_keys
         WHERE seq <= (SELECT MAX(seq) FROM (SELECT seq FROM dedup_keys ORDER BY seq LIMIT ?))
         AND received_at < ?`,
      ),
      unindex: db.prepare("DELETE FROM dedup_index WHERE hash = ? AND seq = ?"),
      remove: db.prepare("DELETE FROM dedup_keys WHERE seq = ?"),
    };
    // Now rather than in the first commit, which would wait for it.
    this.#reload();
  }

  /** At the start of each write transaction: catches up with the file. */
  sync(): void {
    this.#added = 0;
    if (this.#stale) {
      this.#reload();
      return;
    }
    const max = (this.#stmt.maxSeq.get() as { n: number | null }).n ?? 0;
    if (max === this.#through) return;
    // The newest keys were pruned (by this connection or another): start again.
    if (max < this.#through) {
      this.#reload();
      return;
    }
    // Another connection appended (not the daemon's way, but nothing forbids it).
    const rows = this.#stmt.rowsAfter.all(this.#through) as { seq: number; hash: number }[];
    for (const row of rows) this.#stage(row.hash, row.seq);
    this.#through = max;
  }

  #reload(): void {
    this.#merging = undefined;
    this.#staged = Array.from({ length: BUCKETS }, () => new Map());
    this.#stagedCount = 0;
    const marks = new Array<number>(BUCKETS).fill(0);
    for (const row of this.#stmt.marks.all() as { bucket: number; through: number }[]) {
      marks[row.bucket] = row.through;
    }
    const low = Math.min(...marks);
    const rows = this.#stmt.rowsAfter.iterate(low) as Iterable<{ seq: number; hash: number }>;
    for (const row of rows) {
      if (row.seq > marks[bucketOf(row.hash)]!) this.#stage(row.hash, row.seq);
    }
    const max = (this.#stmt.maxSeq.get() as { n: number | null }).n ?? 0;
    // Never below a merged mark: a row numbered there would count as indexed.
    this.#through = Math.max(max, ...marks);
    this.#stale = false;
  }

  #stage(hash: number, seq: number): void {
    const bucket = this.#staged[bucketOf(hash)]!;
    const entry = bucket.get(hash);
    if (entry === undefined) bucket.set(hash, seq);
    else if (typeof entry === "number") bucket.set(hash, [entry, seq]);
    else entry.push(seq);
    this.#stagedCount++;
  }

  /** Unstages the row `seq`; false if it was not staged. */
  #unstage(hash: number, seq: number): boolean {
    const bucket = this.#staged[bucketOf(hash)]!;
    const entry = bucket.get(hash);
    if (entry === seq) bucket.delete(hash);
    else if (typeof entry === "object" && entry.includes(seq)) {
      const rest = entry.filter((s) => s !== seq);
      bucket.set(hash, rest.length === 1 ? rest[0]! : rest);
    } else return false;
    this.#stagedCount--;
    return true;
  }

  /**
   * The callback id stored with exactly `keys[i]` (whose hash is `hashes[i]`), if any, for
   * each i: staged keys first, then one query of the index for the others.
   */
  findMany(hashes: readonly number[], keys: readonly string[]): (number | undefined)[] {
    const found: (number | undefined)[] = new Array(keys.length).fill(undefined);
    const indexed: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const hash = hashes[i]!;
      const entry = this.#staged[bucketOf(hash)]!.get(hash);
      if (entry !== undefined) {
        for (const seq of typeof entry === "number" ? [entry] : entry) {
          const row = this.#stmt.bySeq.get(seq) as { key: string; callback_id: number } | undefined;
          if (row !== undefined && row.key === keys[i]) found[i] = row.callback_id;
        }
      }
      if (found[i] === undefined) indexed.push(i);
    }
    if (indexed.length === 0) return found;
    if (indexed.length <= FEW_KEYS) {
      for (const i of indexed) {
        const row = this.#stmt.findIndexed.get(hashes[i]!, keys[i]!) as
          | { callback_id: number }
          | undefined;
        found[i] = row?.callback_id;
      }
      return found;
    }
    const rows = this.#stmt.findIndexedMany.all(
      JSON.stringify(indexed.map((i) => hashes[i]!)),
    ) as { hash: number; key: string; callback_id: number }[];
    if (rows.length === 0) return found;
    const byKey = new Map(rows.map((row) => [row.key, row]));
    for (const i of indexed) {
      const row = byKey.get(keys[i]!);
      if (row !== undefined && row.hash === hashes[i]) found[i] = row.callback_id;
    }
    return found;
  }

  /** Adds keys: `rows` holds `hash, key, callback id, received at` for each, flattened. */
  addMany(rows: SQLInputValue[]): void {
    const params: SQLInputValue[] = [];
    for (let i = 0; i < rows.length; i += 4) {
      const seq = this.#through + 1;
      params.push(seq, rows[i]!, rows[i + 1]!, rows[i + 2]!, rows[i + 3]!);
      this.#through = seq;
      this.#stage(rows[i] as number, seq);
      this.#added++;
    }
    this.#insert.run(params);
  }

  /**
   * At the end of a write transaction: merges the next keys of the bucket being merged, or
   * starts merging the fullest bucket if enough keys are staged.
   */
  mergeSome(): void {
    if (this.#stale) return;
    if (this.#merging === undefined) {
      if (this.#stagedCount < this.#limits.stagedKeys) return;
      let fullest = 0;
      for (let b = 1; b < BUCKETS; b++) {
        if (this.#staged[b]!.size > this.#staged[fullest]!.size) fullest = b;
      }
      const keys: [number, number][] = [];
      for (const [hash, entry] of this.#staged[fullest]!) {
        if (typeof entry === "number") keys.push([hash, entry]);
        else for (const seq of entry) keys.push([hash, seq]);
      }
      keys.sort((a, b) => a[1] - b[1]);
      this.#merging = { bucket: fullest, keys, next: 0 };
    }
    const { bucket, keys, next } = this.#merging;
    // At least twice what this commit staged, so merges outpace any stream of keys.
    const size = Math.max(this.#limits.mergeChunk, 2 * this.#added);
    const chunk = keys.slice(next, next + size);
    this.#merging.next += chunk.length;
    if (this.#merging.next >= keys.length) this.#merging = undefined;
    if (chunk.length === 0) return;
    // The oldest keys first, so the mark can say "all up to here". A prune since the merge
    // began may have deleted some: those are no longer staged, and not merged.
    // (A failed commit rebuilds the staged keys from the file.)
    const through = chunk.at(-1)![1];
    const live = chunk.filter(([hash, seq]) => this.#unstage(hash, seq));
    // In index order: each page of dedup_index is written once for all its new keys.
    live.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [hash, seq] of live) this.#stmt.merge.run(hash, seq);
    this.#stmt.mark.run(bucket, through);
  }

  /** Deletes up to `limit` of the oldest keys received before `before`; returns how many. */
  prune(before: number, limit: number): number {
    const rows = this.#stmt.oldest.all(limit, before) as { seq: number; hash: number }[];
    for (const row of rows) {
      this.#stmt.unindex.run(row.hash, row.seq);
      this.#stmt.remove.run(row.seq);
      this.#unstage(row.hash, row.seq);
    }
    return rows.length;
  }

  /** The write transaction was rolled back. */
  rolledBack(): void {
    this.#stale = true;
  }
}

/**
 * What the journal at `db` records of its inbox: the epoch of the file it indexes and how far
 * it has indexed it (undefined before the first inbox). For any connection, a read-only one
 * too: with {@linkcode inboxBacklog}, what is stored and not indexed yet.
 */
export function readInboxMark(db: DatabaseSync): { epoch: number; offset: number } | undefined {
  const row = db.prepare(
    `SELECT (SELECT value FROM meta WHERE key = 'inbox_epoch') AS epoch,
            (SELECT value FROM meta WHERE key = 'inbox_offset') AS offset`,
  ).get() as { epoch: number | null; offset: number | null };
  return row.epoch === null || row.offset === null
    ? undefined
    : { epoch: row.epoch, offset: row.offset };
}

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
   * Another connection checkpoints the WAL (see {@linkcode Journal.checkpoint}): this one
   * only rewinds it every {@linkcode BACKSTOP_PAGES}. The daemon's delivery worker does it,
   * on its own thread. Default false.
   */
  checkpointedElsewhere?: boolean;
  /**
   * Internal, for tests: replaces {@linkcode dedupHash} (e.g. to force collisions). A file
   * must always be opened with the same function.
   */
  hash?: (key: string) => number;
  /** Internal, for tests: staged dedup keys that start a merge (default 16384). */
  stagedKeys?: number;
  /**
   * Internal, for tests: keys of the bucket being merged that one commit merges, at least
   * (default 128; twice the keys the commit adds if that is more).
   */
  mergeChunk?: number;
  /**
   * For a connection that only reads pending deliveries (the delivery worker's) beside the
   * daemon's, which created and migrated the file: no migration, no dedup keys in memory,
   * a 256 KiB page cache. Default false.
   */
  reader?: boolean;
  /**
   * Store callbacks through the inbox (see `inbox.ts` and {@linkcode Journal.accept}). Only
   * one process may: `serve`.
   */
  inbox?: InboxOptions;
}

/** How a journal with an inbox indexes it. */
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
 * which the listener counts as saturated, and for how long after such a batch. Under a steady
 * 2,000 callbacks/s batches hold 1 or 2; under wrk's 64 connections, 30 to 64. Slow clients
 * still sending their bodies do not count, unlike requests in flight.
 */
const BUSY_BATCH = 8;
const BUSY_FOR_MS = 20;

/** Records indexed from the inbox per commit, at most (about 10 ms of the event loop). */
const INDEX_CHUNK = 512;
/** How often a busy listener is asked again whether the inbox may be indexed. */
const BUSY_RECHECK_MS = 5;
/** How long indexing waits after it failed (the database locked, the disk full). */
const INDEX_RETRY_MS = 1_000;
/**
 * How long a commit waits for another connection's lock once indexing has failed: the
 * listener waits with it, and the callbacks are safe in the inbox meanwhile.
 */
const FAILING_BUSY_TIMEOUT_MS = 50;

/** The SQLite journal. Open with {@linkcode Journal.open}; close with `await using` or `close()`. */
export class Journal implements AsyncDisposable {
  readonly path: string;
  #db: DatabaseSync;
  #queue: QueuedWrite[] = [];
  /** Callback ids per plugin marked delivered since the last commit. */
  #delivered = new Map<string, number[]>();
  #scheduled = false;
  /** The timer of a commit that only lazy writes wait for. */
  #lazy: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #listeners = new Set<() => void>();
  #hash: (key: string) => number;
  #dedup: DedupKeys | undefined;
  #insert: { callbacks: RowInserts; deliveries: RowInserts };
  #dedupLimits: DedupLimits;
  /** The inbox, if callbacks go through one; see {@linkcode Journal.accept}. */
  #inbox: Inbox | undefined;
  #inboxOptions: InboxOptions = {};
  /** Inbox offset up to which batches are indexed (committed). */
  #indexed = 0;
  /** A commit indexing inbox batches is queued. */
  #indexing = false;
  #indexTimer: ReturnType<typeof setTimeout> | undefined;
  /** Why the last indexing commit failed, until one succeeds. */
  #indexError: string | undefined;
  /** The connection's busy timeout, and whether it is cut short while indexing fails. */
  #busyTimeoutMs = 1000;
  #shortTimeout = false;
  /** The inbox offset the open write transaction has indexed up to, to record at its end. */
  #markTo: number | undefined;
  /** Until when the listener counts as busy, by default (see {@linkcode BUSY_BATCH}). */
  #busyUntil = Number.NEGATIVE_INFINITY;
  #stmt: {
    begin: StatementSync;
    commit: StatementSync;
    deleteDeliveries: StatementSync;
    retryDelivery: StatementSync;
    killDelivery: StatementSync;
    pending: StatementSync;
    insertQuarantine: StatementSync;
    generation: StatementSync;
    setInboxMark: StatementSync;
  };

  private constructor(
    path: string,
    db: DatabaseSync,
    hash: (key: string) => number,
    dedupLimits: DedupLimits,
  ) {
    this.path = path;
    this.#db = db;
    this.#hash = hash;
    this.#dedupLimits = dedupLimits;
    this.#insert = {
      callbacks: new RowInserts(db, "callbacks", [
        "received_at",
        "sdk_app_id",
        "command",
        "group_key",
        "client_ip",
        "opt_platform",
        "body",
        "decision",
      ]),
      deliveries: new RowInserts(db, "deliveries", ["plugin", "callback_id"]),
    };
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
        `UPDATE deliveries SET state = 'dead', attempts = ?, last_error = ?
         WHERE plugin = ? AND callback_id = ?`,
      ),
      pending: returningArrays(db.prepare(
        `SELECT c.id, c.received_at, c.sdk_app_id, c.command, c.group_key, c.client_ip,
                c.opt_platform, c.body, d.attempts, d.next_at, c.decision
         FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
         WHERE d.plugin = ? AND d.state = 'pending' AND d.callback_id > ?
         ORDER BY d.callback_id LIMIT ?`,
      )),
      insertQuarantine: db.prepare(
        `INSERT INTO quarantine (received_at, sdk_app_id, command, query, reason, body)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      generation: db.prepare("SELECT value FROM meta WHERE key = 'replay_generation'"),
      setInboxMark: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('inbox_epoch', ?), ('inbox_offset', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
    };
  }

  /** Opens (creating if needed) the journal at `path`; its folder is created too. */
  static open(path: string, options: JournalOptions = {}): Journal {
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    const db = new DatabaseSync(path);
    try {
      // `os` never fsyncs, as DESIGN says, not even while creating the file (hence first).
      // With NORMAL, the checkpoints' fsyncs stalled the listener's WAL appends on ext4:
      // p99 ack latency at 2,000/s was 8.5-9.4 ms, 4.3-4.8 ms with OFF.
      db.exec(`PRAGMA synchronous = ${options.durability === "fsync" ? "FULL" : "OFF"}`);
      db.exec("PRAGMA journal_mode = WAL");
      const busyTimeoutMs = Math.trunc(options.busyTimeoutMs ?? 1000);
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
      // Checkpoints every ~40 MB of WAL instead of ~4 MB: fewer, larger ones.
      db.exec("PRAGMA wal_autocheckpoint = 10000");
      const hash = options.hash ?? dedupHash;
      if (options.reader) {
        // SQLite empties a WAL reader's page cache whenever another connection has committed
        // since its last read, which the daemon does every few ms under load: SQLite's
        // default 2 MiB would hold pages of one pending query at most, and stay resident.
        db.exec("PRAGMA cache_size = -256");
      } else {
        // SQLite's default 2 MiB. 4 and 32 MiB made appends no faster (bench/journal_bench.ts,
        // alternating runs) and stayed resident (see sqlite_sync's cache for the RSS).
        db.exec("PRAGMA cache_size = -2048");
        migrate(db, hash);
      }
      const journal = new Journal(path, db, hash, {
        stagedKeys: options.stagedKeys ?? STAGED_KEYS,
        mergeChunk: options.mergeChunk ?? MERGE_CHUNK,
      });
      journal.#busyTimeoutMs = busyTimeoutMs;
      // Loads the dedup keys at open rather than in the first commit, which would wait.
      if (!options.reader) journal.#keys();
      if (options.checkpointedElsewhere) {
        db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      }
      if (options.inbox !== undefined && !options.reader) {
        journal.#openInbox(options.durability ?? "os", options.inbox);
      }
      return journal;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  #openInbox(durability: Durability, options: InboxOptions): void {
    const { inbox, resume } = Inbox.open(inboxPath(this.path), durability, readInboxMark(this.#db));
    this.#inbox = inbox;
    this.#inboxOptions = options;
    this.#indexed = resume;
    // What an earlier process stored and did not index, from now on.
    if (inbox.size > resume) this.#scheduleIndex(0);
  }

  /** The dedup keys, read into memory on first use. */
  #keys(): DedupKeys {
    return this.#dedup ??= new DedupKeys(this.#db, this.#dedupLimits);
  }

  /**
   * Copies the WAL into the database file as far as readers allow (PASSIVE: never waits for,
   * or blocks, the writer; with `fsync` durability it fsyncs the file). For a connection
   * beside the writer's.
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
   */
  append(record: CallbackRecord): Promise<AppendResult> {
    if (this.#inbox !== undefined) {
      return Promise.reject(
        new TypeError("This journal stores callbacks through its inbox: accept()"),
      );
    }
    return this.#enqueue(record) as Promise<AppendResult>;
  }

  /**
   * Stores a callback, like {@linkcode Journal.append}. With an inbox, it resolves once the
   * callback's batch is in the inbox: with what `append` would have, when the batch was
   * indexed at once too (the inbox was indexed up to it and the listener not busy), else
   * with `"deferred"`; the batch is then indexed later (and `onIndexed` told).
   */
  accept(record: CallbackRecord): Promise<Accepted> {
    return this.#enqueue(record) as Promise<Accepted>;
  }

  /** Whether some accepted callbacks are not indexed yet, and why indexing fails, if it does. */
  get indexing(): { backlogBytes: number; error: string | undefined } {
    return {
      backlogBytes: this.#inbox === undefined ? 0 : this.#inbox.size - this.#indexed,
      error: this.#indexError,
    };
  }

  #scheduleIndex(delayMs: number): void {
    if (this.#indexTimer !== undefined || this.#indexing || this.#closed) return;
    this.#indexTimer = setTimeout(() => {
      this.#indexTimer = undefined;
      this.#indexSome();
    }, delayMs);
  }

  /** Indexes the next chunk of the inbox's backlog, unless the listener is busy. */
  #indexSome(): void {
    const inbox = this.#inbox;
    if (inbox === undefined || this.#indexing || this.#closed) return;
    const backlog = inbox.size - this.#indexed;
    if (backlog <= 0) return;
    const options = this.#inboxOptions;
    if (
      backlog <= (options.maxBacklogBytes ?? 2 ** 30) && this.#indexError === undefined &&
      this.#busy()
    ) {
      this.#scheduleIndex(BUSY_RECHECK_MS);
      return;
    }
    let read;
    try {
      read = inbox.read(this.#indexed, INDEX_CHUNK);
    } catch (error) {
      this.#indexFailed(error);
      return;
    }
    const { records, next } = read;
    this.#indexing = true;
    this.#enqueue(() => {
      const results = this.#appendAll(records);
      this.#markTo = next;
      return results;
    }).then((results) => {
      this.#indexing = false;
      this.#indexed = next;
      this.#indexError = undefined;
      this.#inboxOptions.onIndexed?.(records, results);
      if (inbox.size > next) this.#scheduleIndex(0);
      else this.#restartInbox();
    }, (error) => {
      this.#indexing = false;
      this.#indexFailed(error);
    });
  }

  #busy(): boolean {
    const busy = this.#inboxOptions.busy;
    return busy !== undefined ? busy() : performance.now() < this.#busyUntil;
  }

  #indexFailed(error: unknown): void {
    this.#indexError = error instanceof Error ? error.message : String(error);
    this.#scheduleIndex(INDEX_RETRY_MS);
  }

  /** A large inbox, all indexed, starts over in a new file. */
  #restartInbox(): void {
    const inbox = this.#inbox!;
    if (inbox.size < (this.#inboxOptions.restartBytes ?? 64 * 2 ** 20)) return;
    if (inbox.size !== this.#indexed || this.#closed) return;
    try {
      inbox.restart();
    } catch {
      // A read-only folder, say: the same file grows on, and this is tried again next time.
      return;
    }
    this.#indexed = INBOX_HEADER_BYTES;
    // Any commit records the new epoch; this one, in case none comes soon.
    this.#enqueue(() => {
      this.#markTo = INBOX_HEADER_BYTES;
    }, true).catch(() => {});
  }

  /**
   * Stores `records` in the open write transaction, in order, and returns what `append`
   * resolves with for each. A whole batch goes in with multi-row statements: one look-up of
   * the dedup keys that are not staged, one insert per table and chunk of rows.
   */
  #appendAll(records: readonly CallbackRecord[]): AppendResult[] {
    const keys = this.#keys();
    const hashes = records.map((record) => this.#hash(record.dedupKey));
    const stored = keys.findMany(hashes, records.map((record) => record.dedupKey));
    // The callbacks to store, by key: the first record of each key not stored yet.
    const fresh = new Map<string, number>();
    const callbacks: SQLInputValue[] = [];
    records.forEach((record, i) => {
      if (stored[i] !== undefined || fresh.has(record.dedupKey)) return;
      fresh.set(record.dedupKey, fresh.size);
      callbacks.push(
        record.receivedAt,
        record.sdkAppId,
        record.command,
        record.groupKey ?? null,
        record.clientIp ?? null,
        record.optPlatform ?? null,
        record.body,
        record.decision ?? null,
      );
    });
    if (fresh.size === 0) return stored.map((id) => ({ id: id!, duplicate: true }));
    const firstId = this.#insert.callbacks.run(callbacks);
    const dedupRows: SQLInputValue[] = [];
    const deliveries: SQLInputValue[] = [];
    const done = new Array<boolean>(fresh.size).fill(false);
    const results = records.map((record, i): AppendResult => {
      if (stored[i] !== undefined) return { id: stored[i], duplicate: true };
      const n = fresh.get(record.dedupKey)!;
      const id = firstId + n;
      // A second record of a key new in this batch is a duplicate of the first.
      if (done[n]) return { id, duplicate: true };
      done[n] = true;
      dedupRows.push(hashes[i]!, record.dedupKey, id, record.receivedAt);
      for (const plugin of record.plugins) deliveries.push(plugin, id);
      return { id, duplicate: false };
    });
    keys.addMany(dedupRows);
    this.#insert.deliveries.run(deliveries);
    return results;
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
    return this.markDeliveredMany(plugin, [id]);
  }

  /** Records that `plugin` handled each callback of `ids`; one promise for them all. */
  markDeliveredMany(plugin: string, ids: readonly number[]): Promise<void> {
    if (this.#closed) return this.#enqueue(noop);
    // Collected and deleted with one statement per plugin at the next commit: a drain
    // records tens of thousands of these a second.
    const queued = this.#delivered.get(plugin);
    if (queued === undefined) this.#delivered.set(plugin, [...ids]);
    else for (const id of ids) queued.push(id);
    return this.#enqueue(noop, true);
  }

  /** Records a failed attempt that will be retried at `nextAt`. */
  markRetry(
    plugin: string,
    id: number,
    update: { attempts: number; nextAt: number; error: string },
  ): Promise<void> {
    return this.#enqueue(() => {
      this.#stmt.retryDelivery.run(update.attempts, update.nextAt, update.error, plugin, id);
    }, true);
  }

  /** Turns a delivery into a dead letter, kept with its last error. */
  markDead(plugin: string, id: number, update: { attempts: number; error: string }): Promise<void> {
    return this.#enqueue(() => {
      this.#stmt.killDelivery.run(update.attempts, update.error, plugin, id);
    }, true);
  }

  /** Pending deliveries of `plugin` with a callback id above `afterId`, in journal order. */
  pending(plugin: string, afterId: number, limit: number): PendingDelivery[] {
    const rows = this.#stmt.pending.all(plugin, afterId, limit) as unknown as PendingRow[];
    return rows.map(pendingDelivery);
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
      `SELECT plugin FROM deliveries
       WHERE plugin IN (SELECT value FROM json_each(?)) AND callback_id = ? AND state = 'dead'`,
    );
    const nameList = JSON.stringify([...names]);
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
            for (const { plugin } of deadOf.all(nameList, row.id) as { plugin: string }[]) {
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
    const mark = this.#inbox === undefined
      ? readInboxMark(this.#db)
      : { epoch: this.#inbox.epoch, offset: this.#indexed };
    return {
      callbacks: one("SELECT COUNT(*) AS n FROM callbacks"),
      inbox: this.path === ":memory:"
        ? { records: 0, bytes: 0 }
        : inboxBacklog(inboxPath(this.path), mark),
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
      // Every plugin with a delivery (a skip scan of the primary key), then one primary key
      // look-up per plugin and callback: no index on callback_id to keep up at each append.
      const plugins = this.#db.prepare(
        `WITH RECURSIVE p (name) AS (
           SELECT MIN(plugin) FROM deliveries
           UNION ALL
           SELECT (SELECT MIN(plugin) FROM deliveries WHERE plugin > p.name) FROM p
           WHERE p.name IS NOT NULL)
         SELECT json_group_array(name) AS names FROM p WHERE name IS NOT NULL`,
      ).get() as { names: string };
      const callbacks = this.#db.prepare(
        `DELETE FROM callbacks WHERE id IN (
           SELECT id FROM callbacks c WHERE c.received_at < ?
           AND NOT EXISTS (SELECT 1 FROM deliveries d
                           WHERE d.plugin IN (SELECT value FROM json_each(?)) AND d.callback_id = c.id)
           LIMIT ?)`,
      ).run(callbacksBefore, plugins.names, limit).changes;
      return Number(callbacks) + this.#keys().prune(dedupBefore, limit);
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
    try {
      this.#inbox?.probe(65536);
    } catch (error) {
      throw new JournalUnavailableError((error as Error).message, { cause: error });
    }
    await this.#enqueue(() => {
      this.#db.exec("INSERT OR REPLACE INTO probe (id, filler) VALUES (1, randomblob(65536))");
    });
  }

  /**
   * Queues `run` for the next commit. A `lazy` write (a delivery outcome: nobody waits for
   * an answer) may wait up to {@linkcode LAZY_MS} for other writes to share its commit.
   */
  #enqueue<T>(work: (() => T) | CallbackRecord, lazy = false): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new JournalUnavailableError("The journal is closed"));
    }
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#scheduled) return;
      if (lazy) {
        this.#lazy ??= setTimeout(() => this.#flush(), LAZY_MS);
        return;
      }
      this.#scheduled = true;
      // After the I/O already polled is handled, so every request read in this turn
      // shares the commit; setImmediate, because a setTimeout(0) waits a millisecond or
      // more in Deno and the answer waits with it.
      setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    this.#scheduled = false;
    clearTimeout(this.#lazy);
    this.#lazy = undefined;
    let batch = this.#queue;
    const delivered = this.#delivered;
    this.#queue = [];
    this.#delivered = new Map();
    if (batch.length === 0 || this.#closed) {
      for (const write of batch) write.reject(new JournalUnavailableError("The journal is closed"));
      return;
    }
    // With an inbox, the callbacks go there first (see #toInbox).
    let accepted: { writes: QueuedWrite[]; end: number } | undefined;
    if (this.#inbox !== undefined && batch.length > 0) {
      ({ batch, accepted } = this.#toInbox(batch));
      if (batch.length === 0) return;
    }
    const results: unknown[] = [];
    this.#markTo = undefined;
    // While indexing fails (a lock held elsewhere), commits give up sooner: each attempt
    // holds up the listener for as long as it waits.
    const short = this.#inbox !== undefined && this.#indexError !== undefined;
    if (short !== this.#shortTimeout) {
      this.#db.exec(
        `PRAGMA busy_timeout = ${short ? FAILING_BUSY_TIMEOUT_MS : this.#busyTimeoutMs}`,
      );
      this.#shortTimeout = short;
    }
    try {
      this.#stmt.begin.run();
      this.#keys().sync();
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
        if (appends.length > 0) results.push(...this.#appendAll(appends));
        appends = [];
        results.push(work());
      }
      if (appends.length > 0) results.push(...this.#appendAll(appends));
      if (accepted !== undefined) this.#markTo = accepted.end;
      if (this.#markTo !== undefined) this.#stmt.setInboxMark.run(this.#inbox!.epoch, this.#markTo);
      this.#keys().mergeSome();
      this.#stmt.commit.run();
    } catch (error) {
      this.#markTo = undefined;
      this.#dedup?.rolledBack();
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
        if (accepted?.writes.includes(write)) write.resolve("deferred");
        else write.reject(failure);
      }
      if (accepted !== undefined) this.#indexFailed(failure);
      return;
    }
    if (accepted !== undefined) {
      this.#indexed = accepted.end;
      this.#restartInbox();
    }
    batch.forEach((write, i) => write.resolve(results[i]));
    for (const listener of this.#listeners) listener();
  }

  /**
   * Stores the callbacks of `batch` in the inbox. They stay in the batch, to be indexed in this
   * commit, only if everything before them is indexed and the listener has time; otherwise
   * they are answered `"deferred"` (or rejected, if the inbox cannot be written). Returns what
   * is left to commit, and the callbacks indexed in it with the inbox offset they end at.
   */
  #toInbox(batch: QueuedWrite[]): {
    batch: QueuedWrite[];
    accepted?: { writes: QueuedWrite[]; end: number };
  } {
    const writes = batch.filter((write) => typeof write.work !== "function");
    if (writes.length === 0) return { batch };
    const rest = batch.filter((write) => typeof write.work === "function");
    let range;
    try {
      range = this.#inbox!.append(writes.map((write) => write.work as CallbackRecord));
    } catch (error) {
      const failure = new JournalUnavailableError((error as Error).message, { cause: error });
      for (const write of writes) write.reject(failure);
      return { batch: rest };
    }
    if (writes.length >= BUSY_BATCH) this.#busyUntil = performance.now() + BUSY_FOR_MS;
    if (
      range.start === this.#indexed && !this.#indexing && this.#indexError === undefined &&
      !this.#busy()
    ) {
      return { batch: [...rest, ...writes], accepted: { writes, end: range.end } };
    }
    for (const write of writes) write.resolve("deferred");
    this.#scheduleIndex(0);
    return { batch: rest };
  }

  /** Commits what is queued and closes the database. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    clearTimeout(this.#indexTimer);
    this.#indexTimer = undefined;
    this.#inbox?.close();
    this.#db.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
