/**
 * Checkpointing a SQLite WAL from a worker thread, so that a checkpoint's page copies and
 * fsyncs never stall the thread that answers callbacks. Used by the journal and by
 * `builtin:sqlite_sync`.
 *
 * @module
 */

/** The autocheckpoint (in pages, ~64 MiB) of a connection whose WAL a worker checkpoints. */
export const BACKSTOP_PAGES = 16_384;

/** Callbacks of {@linkcode startCheckpointer}. */
export interface CheckpointerHooks {
  /**
   * The worker checkpoints from now on: raise the connection's autocheckpoint to
   * {@linkcode BACKSTOP_PAGES}, which only rewinds the WAL the worker has mostly copied.
   */
  onReady(): void;
  /** The worker stopped: turn the connection's autocheckpoint back on. */
  onFailure(reason: string): void;
}

/** A running checkpointer; `stop` ends the worker. */
export interface Checkpointer {
  stop(): void;
}

/** Starts a worker that checkpoints the WAL of the database at `path` every `intervalMs`. */
export function startCheckpointer(
  path: string,
  hooks: CheckpointerHooks,
  intervalMs = 1000,
): Checkpointer {
  const worker = new Worker(new URL("./_checkpointer_worker.ts", import.meta.url), {
    type: "module",
  });
  let stopped = false;
  const fail = (reason: string): void => {
    if (stopped) return;
    stopped = true;
    worker.terminate();
    hooks.onFailure(reason);
  };
  worker.onmessage = (event: MessageEvent<"ready" | { error: string }>) => {
    if (stopped) return;
    if (event.data === "ready") hooks.onReady();
    else fail(event.data.error);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    fail(event.message);
  };
  worker.postMessage({ path, intervalMs });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      worker.terminate();
    },
  };
}
