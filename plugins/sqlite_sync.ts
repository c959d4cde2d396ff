/**
 * `builtin:sqlite_sync`: keeps the current state of IM groups (info, custom fields,
 * attributes, members, messages) in a SQLite file that any SQLite client can read while
 * imhookd writes it (WAL mode). The tables are the same whatever order callbacks arrive in
 * and however often each arrives; see `_sqlite_sync_store.ts` for how.
 *
 * What each command writes:
 * - `groups` rows come from `Group.CallbackAfterCreateGroup`, `...GroupInfoChanged` (only the
 *   fields present; `""` is a value), `...ChangeGroupOwner` (`owner_account`) and
 *   `...GroupDestroyed` (`destroyed = 1`, for good). Other commands do not touch the row.
 * - `group_custom_fields` from `UserDefinedDataList` (create, info changed); `group_attrs`
 *   from `...GroupAttrChanged`.
 * - `group_members` from the member lists of create, `...NewMemberJoin` and `...MemberExit`;
 *   the member list of `...GroupDestroyed` is history and changes nothing.
 * - `group_messages` from `...AfterSendMsg` (`msg_body` is the JSON of `MsgBody`, `text` the
 *   `TIMTextElem` texts joined with `""`) and `...AfterRecallMsg` (`recalled = 1`).
 * Other commands are ignored. A payload that cannot be applied (e.g. `MsgSeq` not a number)
 * fails with `permanent: true`; database errors (e.g. a lock held too long) are retried.
 *
 * ```yaml
 * plugins:
 *   - name: im_state
 *     use: builtin:sqlite_sync
 *     on: ["Group.*"]
 *     options:
 *       path: ./data/im.db     # relative to the config file's folder
 *       busy_timeout: 5s       # how long a write waits for a lock held by another connection
 *       max_batch: 512         # most callbacks written in one transaction
 * ```
 *
 * @module
 */
import { dirname, isAbsolute, join } from "node:path";
import { clearImmediate, setImmediate } from "node:timers";
import type { DatabaseSync } from "node:sqlite";
import type {
  CallbackEvent,
  Handler,
  Plugin,
  PluginContext,
  PluginLogger,
  PluginOptionsContext,
} from "../plugin.ts";
import { parseDuration } from "../core/config/units.ts";
import { changeToApply, type GroupChange } from "./_sqlite_sync_change.ts";
import { openSyncDatabase } from "./_sqlite_sync_schema.ts";
import { SyncStore } from "./_sqlite_sync_store.ts";
import { OptionErrors } from "./_options.ts";

/** The validated options of `builtin:sqlite_sync`. */
export interface SqliteSyncOptions {
  /** Absolute path of the database file. */
  path: string;
  /** How long a write waits for a lock, in ms. Default 5000. */
  busyTimeoutMs: number;
  /** Most callbacks written in one transaction. Default 512. */
  maxBatch: number;
}

const OPTION_KEYS = ["path", "busy_timeout", "max_batch"];

/**
 * Validates the raw `options` of a `builtin:sqlite_sync` entry; `path` is resolved against
 * `ctx.configDir`. Errors start with the key path, e.g. `options.path: ...`.
 */
export function parseSqliteSyncOptions(
  raw: unknown,
  ctx: PluginOptionsContext,
): SqliteSyncOptions {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new TypeError(`options: expected a map with at least "path", got ${describe(raw)}`);
  }
  const options = raw as Record<string, unknown>;
  const errors = new OptionErrors();
  errors.unknownKeys(options, OPTION_KEYS, "options");
  const path = errors.check(() => {
    const path = options.path;
    if (typeof path !== "string" || path.trim() === "") {
      throw new TypeError(`options.path: expected a file path, got ${describe(path)}`);
    }
    return path;
  });
  const busyTimeoutMs = errors.check(() => {
    const value = options.busy_timeout;
    if (value === undefined) return 5_000;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new TypeError(
        `options.busy_timeout: expected a duration such as 5s, got ${describe(value)}`,
      );
    }
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (error) {
      throw new RangeError(`options.busy_timeout: ${(error as Error).message}`);
    }
    if (ms > 2 ** 31 - 1) {
      throw new RangeError(`options.busy_timeout: "${value}" is too long; at most 24d`);
    }
    return ms;
  });
  const maxBatch = errors.check(() => {
    const value = options.max_batch;
    if (value === undefined) return 512;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `options.max_batch: expected a whole number of at least 1, got ${describe(value)}`,
      );
    }
    return value;
  });
  errors.throwIfAny();
  return {
    path: isAbsolute(path!) ? path! : join(ctx.configDir, path!),
    busyTimeoutMs: busyTimeoutMs!,
    maxBatch: maxBatch!,
  };
}

/**
 * Opens the database (creating its folder and tables) and returns the running plugin.
 * `handle` calls are collected until the next macrotask (`setImmediate`), so deliveries
 * running concurrently share a transaction; at most `maxBatch` changes go in one
 * transaction. Each call resolves once its transaction has committed and rejects if it
 * failed. Disposing writes what is still collected, then closes the database.
 */
export function createSqliteSync(options: SqliteSyncOptions, ctx: PluginContext): Handler {
  Deno.mkdirSync(dirname(options.path), { recursive: true });
  const db = openSyncDatabase(options.path, options.busyTimeoutMs);
  ctx.logger.info("sqlite_sync writing {path}", { path: options.path });
  // Its commits checkpoint the WAL themselves (see openSyncDatabase). In imhookd they run on
  // the delivery thread, so those fsyncs never delay an answer; a checkpointer worker of its
  // own drained no faster for more memory (docs/performance.md). The WalFlusher writes the WAL
  // out ahead of them instead, from Deno's blocking pool.
  return new SqliteSync(db, options.maxBatch, `${options.path}-wal`, ctx.logger);
}

/** Changes committed since the last sync of the WAL that call for the next one. */
const FLUSH_AHEAD_CHANGES = 1024;

interface Pending {
  change: GroupChange;
  resolve(): void;
  reject(error: unknown): void;
}

class SqliteSync implements Handler {
  #db: DatabaseSync;
  #store: SyncStore;
  #maxBatch: number;
  #queue: Pending[] = [];
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  #wal: WalFlusher;

  constructor(db: DatabaseSync, maxBatch: number, walPath: string, logger: PluginLogger) {
    this.#db = db;
    this.#store = new SyncStore(db);
    this.#maxBatch = maxBatch;
    this.#wal = new WalFlusher(walPath, logger);
  }

  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    let change: GroupChange | undefined;
    try {
      change = changeToApply("sqlite_sync", this.#closed, event, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (change === undefined) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({ change, resolve, reject });
    // A macrotask, not a microtask: every delivery that runs before the event loop's next
    // check phase (other workers, other I/O callbacks) joins the same transaction.
    // `setTimeout(0)` would do the same but waits a millisecond or more in Deno, a wait that
    // each delivery of a lane with one in flight would pay (docs/performance.md).
    this.#immediate ??= setImmediate(() => this.#flush());
    return promise;
  }

  #flush(): void {
    if (this.#immediate !== undefined) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    const changes = this.#queue.length;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      try {
        this.#store.applyAll(batch.map((pending) => pending.change));
        for (const pending of batch) pending.resolve();
      } catch {
        // Apply one by one so that one bad change does not fail the others with it.
        for (const pending of batch) {
          try {
            this.#store.applyAll([pending.change]);
            pending.resolve();
          } catch (error) {
            pending.reject(error);
          }
        }
      }
    }
    this.#wal.committed(changes);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    await this.#wal.close();
    this.#db.close();
  }
}

/**
 * Writes the WAL out to disk in the background, off the delivery thread. With `synchronous =
 * NORMAL`, SQLite fsyncs the WAL before each checkpoint on the thread that commits, all that
 * was written since the last one, and no plugin on that thread runs meanwhile (see
 * docs/performance.md for how long that took). Synced ahead, little is left to write by then.
 * An extra `fdatasync` never weakens what SQLite promises; it only moves the writing earlier.
 * At most one runs at a time, and only once {@linkcode FLUSH_AHEAD_CHANGES} changes were
 * committed since the last one started, so a trickle of callbacks does not turn into a stream
 * of fsyncs. The WAL carries no POSIX locks, so a descriptor of its own is safe.
 */
class WalFlusher {
  #path: string;
  #logger: PluginLogger;
  #file: Deno.FsFile | undefined;
  #running: Promise<void> | undefined;
  #changes = 0;
  #stopped = false;

  constructor(path: string, logger: PluginLogger) {
    this.#path = path;
    this.#logger = logger;
  }

  /** After `changes` were committed: starts an `fdatasync` of the WAL if it is time to. */
  committed(changes: number): void {
    this.#changes += changes;
    if (this.#stopped || this.#running !== undefined) return;
    if (this.#changes < FLUSH_AHEAD_CHANGES) return;
    this.#changes = 0;
    this.#running = this.#sync().finally(() => this.#running = undefined);
  }

  async #sync(): Promise<void> {
    try {
      this.#file ??= await Deno.open(this.#path, { read: true });
      await this.#file.syncData();
    } catch (error) {
      // Only a speed-up: SQLite still syncs the WAL itself before each checkpoint.
      this.#stopped = true;
      this.#logger.warn("Cannot sync {path} ahead of checkpoints; SQLite still does: {error}", {
        path: this.#path,
        error,
      });
    }
  }

  /** Waits for the sync under way and closes the WAL's descriptor. */
  async close(): Promise<void> {
    this.#stopped = true;
    await this.#running;
    this.#file?.close();
    this.#file = undefined;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  return JSON.stringify(value) ?? String(value);
}

/** The `builtin:sqlite_sync` plugin. */
const sqliteSync = {
  name: "sqlite_sync",
  parseOptions: parseSqliteSyncOptions,
  // Its database's folder: SQLite creates the -wal and -shm files beside it.
  permissions: (options) => {
    const folder = dirname(options.path);
    return { read: [folder], write: [folder] };
  },
  create: createSqliteSync,
} satisfies Plugin<SqliteSyncOptions>;

export default sqliteSync;
