/**
 * Storing callbacks: a batch of records goes into `callbacks`, `deliveries` and the dedup keys
 * inside the writer's open write transaction, duplicates found and skipped.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { DedupKeys } from "./dedup.ts";
import { RowInserts } from "./row_inserts.ts";
import type { AppendResult, CallbackRecord } from "./types.ts";

/** Appends batches of callbacks on the writer's connection. */
export class CallbackAppender {
  #keys: DedupKeys;
  #hash: (key: string) => number;
  #callbacks: RowInserts;
  #deliveries: RowInserts;

  constructor(db: DatabaseSync, keys: DedupKeys, hash: (key: string) => number) {
    this.#keys = keys;
    this.#hash = hash;
    this.#callbacks = new RowInserts(db, "callbacks", [
      "received_at",
      "sdk_app_id",
      "command",
      "group_key",
      "client_ip",
      "opt_platform",
      "body",
    ]);
    this.#deliveries = new RowInserts(db, "deliveries", ["plugin", "callback_id"]);
  }

  /**
   * Stores `records` in the open write transaction, in order, and returns what `append`
   * resolves with for each. A whole batch goes in with multi-row statements: one look-up of
   * the dedup keys that are not staged, one insert per table and chunk of rows.
   */
  run(records: readonly CallbackRecord[]): AppendResult[] {
    const keys = this.#keys;
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
      );
    });
    if (fresh.size === 0) return stored.map((id) => ({ id: id!, duplicate: true }));
    const firstId = this.#callbacks.run(callbacks);
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
    this.#deliveries.run(deliveries);
    return results;
  }
}
