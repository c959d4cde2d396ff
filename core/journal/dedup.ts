/**
 * The dedup keys: which callbacks are stored already, by (app, command, natural key).
 *
 * Keys (`dedup_keys`) are numbered in insertion order (`seq`, roughly time order) and found by
 * a 53-bit hash of the key ({@linkcode dedupHash}); the full key is always compared before a
 * callback counts as a duplicate, so a hash collision costs one more row read, never a lost
 * callback.
 *
 * The index by hash is kept in two parts, because an index on a random hash dirties one page
 * per new key in every commit, a large share of an append's cost. Recent keys are *staged*:
 * indexed in memory only, their rows written in `seq` order (sequential pages). The staged
 * keys are merged into `dedup_index` a hash range (a *bucket*, 1/16 of the hashes) at a time,
 * oldest first, a chunk per commit, each chunk sorted by hash, so that a merge dirties each
 * index page once for many keys.
 *
 * Invariant: in bucket b, every row with `seq <= dedup_merged.through` is in `dedup_index`;
 * every later row is staged (the memory index is rebuilt from that on open and after a
 * failed commit).
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { RowInserts } from "./row_inserts.ts";

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

/**
 * Up to this many keys are looked up in the index one by one; more, with one query: the one
 * query (`json_each`) is slower for the usual commit of one or a few callbacks.
 */
const FEW_KEYS = 8;

/** Hash ranges the index is merged by; part of the file format (`dedup_merged.bucket`). */
export const BUCKETS = 16;
/** Hashes are below 2^53: 16 buckets of 2^49. */
const BUCKET_SPAN = 2 ** 49;
/** Staged keys that start a merge (one bucket at a time, until fewer are staged). */
export const STAGED_KEYS = 16_384;
/**
 * Keys of the bucket being merged that one commit merges, at least. A whole bucket in one
 * commit holds that commit, and the answers waiting for it, for milliseconds: chunks spread
 * the merge over many commits (see docs/performance.md for the measured latencies).
 */
export const MERGE_CHUNK = 128;

/** When staged dedup keys are merged (internal options of the writer, for tests). */
export interface DedupLimits {
  stagedKeys: number;
  mergeChunk: number;
}

function bucketOf(hash: number): number {
  const bucket = Math.floor(hash / BUCKET_SPAN) % BUCKETS;
  return bucket >= 0 ? bucket : Number.isNaN(bucket) ? 0 : bucket + BUCKETS;
}

/** The dedup keys (see the module doc). Used only inside the writer's write transaction. */
export class DedupKeys {
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
