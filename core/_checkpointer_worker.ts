/**
 * A worker that checkpoints the journal's WAL on its own connection, so the fsyncs and page
 * copies of a checkpoint never stall the thread that answers callbacks. Started by
 * `startCheckpointer` in `checkpointer.ts`; it posts `"ready"` once its connection is open,
 * and any error as `{ error }`.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { DatabaseSync } from "node:sqlite";

/** What the journal sends: where the database is and how often to checkpoint. */
export interface CheckpointerStart {
  path: string;
  intervalMs: number;
}

let db: DatabaseSync | undefined;

self.onmessage = (event: MessageEvent<CheckpointerStart | "close">) => {
  if (event.data === "close") {
    db?.close();
    self.close();
    return;
  }
  const { path, intervalMs } = event.data;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA busy_timeout = 5000");
  } catch (error) {
    self.postMessage({ error: error instanceof Error ? error.message : String(error) });
    return;
  }
  setInterval(() => {
    try {
      // PASSIVE: copies what it can without waiting for, or blocking, the writer. Under a
      // steady stream the WAL is never found fully copied, so the writer's own (large)
      // autocheckpoint still rewinds it now and then; it finds little left to copy.
      db?.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (error) {
      self.postMessage({ error: error instanceof Error ? error.message : String(error) });
    }
  }, intervalMs);
  self.postMessage("ready");
};
