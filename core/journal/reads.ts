/**
 * What the delivery engine reads of the journal, on any connection (the writer's, or the
 * delivery thread's reader): pending deliveries in journal order, and the replay generation.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { PendingDelivery } from "./types.ts";

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
];

/**
 * Makes `statement` return each row as an array (node:sqlite's `setReturnArrays`, which
 * Deno's types for it lack). A row as an object is built property by property in dictionary
 * mode: arrays turned into objects in JavaScript are built faster and read faster after
 * (see docs/performance.md).
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
    attempts: row[8],
    nextAt: row[9],
  };
}

/** The delivery engine's reads, prepared once on one connection. */
export class DeliveryReads {
  #pending: StatementSync;
  #generation: StatementSync;

  constructor(db: DatabaseSync) {
    this.#pending = returningArrays(db.prepare(
      `SELECT c.id, c.received_at, c.sdk_app_id, c.command, c.group_key, c.client_ip,
              c.opt_platform, c.body, d.attempts, d.next_at
       FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
       WHERE d.plugin = ? AND d.state = 'pending' AND d.callback_id > ?
       ORDER BY d.callback_id LIMIT ?`,
    ));
    this.#generation = db.prepare("SELECT value FROM meta WHERE key = 'replay_generation'");
  }

  /** Pending deliveries of `plugin` with a callback id above `afterId`, in journal order. */
  pending(plugin: string, afterId: number, limit: number): PendingDelivery[] {
    const rows = this.#pending.all(plugin, afterId, limit) as unknown as PendingRow[];
    return rows.map(pendingDelivery);
  }

  /** A number that changes whenever `replay` marks callbacks for delivery again. */
  replayGeneration(): number {
    return (this.#generation.get() as { value: number }).value;
  }
}
