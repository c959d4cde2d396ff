/**
 * `builtin:postgres_sync`: the tables of `builtin:sqlite_sync` (groups, custom fields,
 * attributes, members, messages) in PostgreSQL, so that several imhookd instances behind a
 * load balancer keep one shared state. Callbacks are parsed exactly as `sqlite_sync` parses
 * them (`_sqlite_sync_change.ts`) and applied by a function in the database
 * (`_postgres_sync_sql.ts`) with the same rules: the same set of callbacks, in any order,
 * from any number of instances, gives the same tables as applying each once in `EventTime`
 * order.
 *
 * Ties: within one instance `sqlite_sync` orders callbacks of the same `EventTime` by journal
 * id, but journal ids mean nothing across instances. Here a change's version is (`EventTime`,
 * a hash of the callback's app, command and body; for a message, a digest of the columns it
 * stores), the same on every instance; a callback without `EventTime` takes its receive time,
 * which differs between instances.
 *
 * Calls are batched: those made before the next macrotask go in one call of the apply
 * function (one round trip, one transaction), at most `max_batch` at a time, with up to
 * `pool_size` batches in flight on as many connections; a flood fills the batches. The schema
 * is created or migrated on the first batch, under an advisory lock, so instances starting
 * together do not race. A payload that cannot be applied fails with `permanent: true`;
 * connection and database errors are retried. The URL's password never appears in logs or
 * errors.
 *
 * Client: `npm:postgres` (porsager), chosen over `npm:pg` after both ran under Deno 2.9 (also
 * in a Worker with only `net` and `env: PG*` permissions): it reconnects its pool by itself after
 * a server restart where `pg`'s pool emits an `error` event that kills the process unless
 * handled, it pipelines, and it answered ~1.5x faster on a round trip here. Version 4 lets the
 * server decide parameter types (a JSON text goes as `$1::text::jsonb`).
 *
 * ```yaml
 * plugins:
 *   - name: shared_state
 *     use: builtin:postgres_sync
 *     on: ["Group.*"]
 *     options:
 *       url: ${file:/run/credentials/imhookd.service/pg_url}  # postgres://user:pass@host:5432/db
 *       schema: imhookd        # default public; created when missing
 *       pool_size: 4           # connections, and batches in flight
 *       max_batch: 128         # most callbacks in one transaction
 * ```
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import postgres from "postgres";
import type {
  CallbackEvent,
  DeliveryErrorFields,
  Handler,
  Plugin,
  PluginContext,
  PluginLogger,
} from "../plugin.ts";
import { changeToApply, type GroupChange } from "./_sqlite_sync_change.ts";
import { applyParameters, changeVersion } from "./_postgres_sync_batch.ts";
import {
  MIGRATION_LOCK_CLASS,
  MIGRATIONS,
  quoteIdentifier,
  SCHEMA_VERSION,
} from "./_postgres_sync_sql.ts";
import { isRecord, OptionErrors, show } from "./_options.ts";

/** The parsed options of `builtin:postgres_sync`. */
export interface PostgresSyncOptions {
  /** `postgres://` or `postgresql://` URL, password included: never log it. */
  url: string;
  /** The schema holding the tables (default `public`). */
  schema: string;
  /** Connections, and batches in flight at once (default 4). */
  poolSize: number;
  /** Most callbacks applied in one transaction (default 128: a flood fills several batches, so
   * the next one is built while PostgreSQL applies one). */
  maxBatch: number;
}

/** A failed write, carrying the retry hints the delivery engine reads. */
export class PostgresSyncError extends Error implements DeliveryErrorFields {
  override name = "PostgresSyncError";
  /** PostgreSQL's SQLSTATE, when the server answered. */
  readonly code: string | undefined;
  /** True when retrying cannot help: the callback's data cannot be stored. */
  readonly permanent: boolean;

  constructor(message: string, init: { code?: string; permanent?: boolean } = {}) {
    super(message);
    this.code = init.code;
    this.permanent = init.permanent ?? false;
  }
}

const OPTION_KEYS = ["url", "schema", "pool_size", "max_batch"];
const DEFAULT_PORT = 5432;
/** Waits this long for batches still in flight when disposed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * Validates the raw `options` of a `builtin:postgres_sync` entry. Errors name the key; none
 * repeats the URL, which holds the password.
 */
export function parsePostgresSyncOptions(raw: unknown): PostgresSyncOptions {
  if (!isRecord(raw)) {
    throw new TypeError(`options: expected a mapping with at least "url", got ${show(raw)}`);
  }
  const errors = new OptionErrors();
  errors.unknownKeys(raw, OPTION_KEYS, "options");
  const url = errors.check(() => {
    const url = raw.url;
    if (typeof url !== "string" || url === "") {
      throw new TypeError(
        `options.url: expected a postgres:// URL such as postgres://user:password@host:5432/db`,
      );
    }
    const parsed = parseUrl(url);
    if (parsed === undefined || !/^postgres(?:ql)?:$/.test(parsed.protocol)) {
      throw new RangeError(
        `options.url: expected a postgres:// or postgresql:// URL with a host (not shown: it may hold a password)`,
      );
    }
    return url;
  });
  const schema = errors.check(() => {
    const schema = raw.schema ?? "public";
    if (typeof schema !== "string" || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new RangeError(
        `options.schema: expected a lowercase name of letters, digits and _, got ${show(schema)}`,
      );
    }
    return schema;
  });
  const poolSize = errors.check(() => wholeNumber(raw.pool_size, "pool_size", 4, 64));
  const maxBatch = errors.check(() => wholeNumber(raw.max_batch, "max_batch", 128, 10_000));
  errors.throwIfAny();
  return { url: url!, schema: schema!, poolSize: poolSize!, maxBatch: maxBatch! };
}

function wholeNumber(value: unknown, key: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(
      `options.${key}: expected a whole number from 1 to ${max}, got ${show(value)}`,
    );
  }
  return value;
}

function parseUrl(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    return parsed.hostname === "" ? undefined : parsed;
  } catch {
    return undefined;
  }
}

/**
 * The permissions `builtin:postgres_sync` needs: the network to the URL's host and port, the
 * `PG*` environment variables the client reads for its defaults, and the TLS files the URL
 * names (`sslrootcert`, `sslcert`, `sslkey`).
 */
export function postgresSyncPermissions(
  options: PostgresSyncOptions,
): Deno.PermissionOptionsObject {
  const url = new URL(options.url);
  const read = ["sslrootcert", "sslcert", "sslkey"]
    .map((key) => url.searchParams.get(key))
    .filter((path) => path !== null && path !== "system") as string[];
  return {
    net: [`${url.hostname}:${url.port || DEFAULT_PORT}`],
    env: ["PG*"],
    read: read.length > 0 ? read : false,
  };
}

/** Starts the plugin; nothing reaches the network until the first callback. */
export function createPostgresSync(
  options: PostgresSyncOptions,
  ctx: PluginContext,
): Handler {
  return new PostgresSync(options, ctx.logger);
}

interface Pending {
  change: GroupChange;
  resolve(): void;
  reject(error: unknown): void;
}

type Sql = ReturnType<typeof postgres>;

class PostgresSync implements Handler {
  #sql: Sql;
  #options: PostgresSyncOptions;
  #logger: PluginLogger;
  /** `host:port/database`: names the server in messages without the credentials. */
  #where: string;
  #secrets: string[];
  #apply: string;
  #ready: Promise<void> | undefined;
  #queue: Pending[] = [];
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #sending = new Set<Promise<void>>();
  #closed = false;

  constructor(options: PostgresSyncOptions, logger: PluginLogger) {
    this.#options = options;
    this.#logger = logger;
    const url = new URL(options.url);
    this.#where = `${url.hostname}:${url.port || DEFAULT_PORT}${url.pathname}`;
    this.#secrets = [options.url, url.password, decodeURIComponent(url.password)]
      .filter((secret) => secret !== "");
    this.#apply = `SELECT ${quoteIdentifier(options.schema)}._imhookd_apply($1::text::jsonb, ${
      Array.from({ length: 7 }, (_, i) => `$${i + 2}::text::json`).join(", ")
    })`;
    this.#sql = postgres(options.url, {
      max: options.poolSize,
      connect_timeout: 10,
      fetch_types: false,
      onnotice: () => {},
      connection: { application_name: "imhookd postgres_sync" },
    });
    logger.info("postgres_sync writing to {where}, schema {schema}", {
      where: this.#where,
      schema: options.schema,
    });
  }

  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    let change: GroupChange | undefined;
    try {
      change = changeToApply("postgres_sync", this.#closed, event, signal);
    } catch (error) {
      return Promise.reject(error);
    }
    if (change === undefined) return Promise.resolve();
    // A message's version is what its row stores, compared by the database (and by
    // applyParameters for a message twice in a batch); the rest carry theirs.
    if (change.message === undefined) change.version = changeVersion(event, change);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = (): void => {
      const at = this.#queue.indexOf(pending);
      if (at >= 0) this.#queue.splice(at, 1);
      // A batch already sent may still commit: the retry applies the change again, harmlessly.
      reject(signal.reason);
    };
    const pending: Pending = {
      change,
      resolve() {
        signal.removeEventListener("abort", onAbort);
        resolve();
      },
      reject(error) {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    };
    signal.addEventListener("abort", onAbort, { once: true });
    this.#queue.push(pending);
    this.#schedule();
    return promise;
  }

  /**
   * Pumps at the next macrotask, as sqlite_sync flushes: every delivery made until then, also
   * those that a batch's completion set going, shares the next batch.
   */
  #schedule(): void {
    this.#immediate ??= setImmediate(() => {
      this.#immediate = undefined;
      this.#pump();
    });
  }

  /** Sends batches while some are waiting and fewer than `pool_size` are in flight. */
  #pump(): void {
    while (this.#queue.length > 0 && this.#sending.size < this.#options.poolSize) {
      const batch = this.#queue.splice(0, this.#options.maxBatch);
      const sending: Promise<void> = this.#send(batch).finally(() => {
        this.#sending.delete(sending);
        if (!this.#closed) this.#schedule();
      });
      this.#sending.add(sending);
    }
  }

  async #send(batch: Pending[]): Promise<void> {
    try {
      await this.#migrated();
      await this.#write(batch.map((pending) => pending.change));
      for (const pending of batch) pending.resolve();
    } catch (error) {
      if (batch.length > 1 && isDataError(error)) {
        // One change the database refuses (e.g. a NUL character, which text cannot hold)
        // must not fail the others: apply them one by one.
        for (const pending of batch) await this.#send([pending]);
        return;
      }
      const failure = this.#failure(error, batch.length);
      for (const pending of batch) pending.reject(failure);
    }
  }

  #write(changes: GroupChange[]): Promise<unknown> {
    return this.#sql.unsafe(this.#apply, applyParameters(changes), { prepare: true });
  }

  /** Creates or migrates the schema once; a failure is retried by the next batch. */
  #migrated(): Promise<void> {
    this.#ready ??= this.#migrate().catch((error) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #migrate(): Promise<void> {
    const schema = this.#options.schema;
    const ident = quoteIdentifier(schema);
    await this.#sql.begin(async (tx) => {
      // Two instances starting at once: the second waits here, then finds the work done.
      await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_CLASS}::int4, hashtext(${schema}))`;
      const [found] = await tx`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`;
      if (found === undefined) await tx.unsafe(`CREATE SCHEMA ${ident}`);
      await tx.unsafe(`SET LOCAL search_path TO ${ident}`);
      await tx.unsafe(
        `CREATE TABLE IF NOT EXISTS _imhookd_migrations (
           version integer PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const [row] = await tx`SELECT coalesce(max(version), 0)::int AS version
        FROM _imhookd_migrations`;
      const current = Number(row?.version ?? 0);
      if (current > SCHEMA_VERSION) {
        throw new RangeError(
          `Cannot use schema "${schema}" on "${this.#where}": its version ${current} is newer than ${SCHEMA_VERSION}, the newest this imhookd knows`,
        );
      }
      for (let version = current; version < SCHEMA_VERSION; version++) {
        await tx.unsafe(MIGRATIONS[version]!);
        await tx`INSERT INTO _imhookd_migrations (version) VALUES (${version + 1})`;
      }
      if (current < SCHEMA_VERSION) {
        this.#logger.info("postgres_sync migrated schema {schema} from {from} to {to}", {
          schema,
          from: current,
          to: SCHEMA_VERSION,
        });
      }
    });
  }

  /** The error handed to the delivery engine: scrubbed of credentials, permanent if data. */
  #failure(error: unknown, count: number): Error {
    if (error instanceof RangeError) return new RangeError(this.#scrub(error.message));
    const code = sqlState(error);
    const what = count === 1 ? "a callback" : `${count} callbacks`;
    return new PostgresSyncError(
      this.#scrub(
        `Cannot write ${what} to PostgreSQL "${this.#where}": ${errorText(error)}${
          code ? ` (SQLSTATE ${code})` : ""
        }`,
      ),
      { ...(code ? { code } : {}), permanent: isDataError(error) },
    );
  }

  #scrub(text: string): string {
    let result = text;
    for (const secret of this.#secrets) result = result.replaceAll(secret, "[redacted]");
    return result;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#immediate !== undefined) {
      clearImmediate(this.#immediate);
      this.#immediate = undefined;
    }
    // Write what is waiting, for a while; what is left stays pending in the journal.
    const deadline = Date.now() + CLOSE_GRACE_MS;
    while ((this.#queue.length > 0 || this.#sending.size > 0) && Date.now() < deadline) {
      this.#pump();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#sending]),
        new Promise((resolve) => timer = setTimeout(resolve, deadline - Date.now())),
      ]);
      clearTimeout(timer);
    }
    const closing = new TypeError("Cannot write to PostgreSQL: postgres_sync is closing");
    for (const pending of this.#queue.splice(0)) pending.reject(closing);
    await this.#sql.end({ timeout: 1 });
    await Promise.allSettled([...this.#sending]);
  }
}

/** SQLSTATE class 22: the server refused a value; sending it again cannot help. */
function isDataError(error: unknown): boolean {
  return sqlState(error)?.startsWith("22") ?? false;
}

/** The SQLSTATE of an error the server sent (not of a socket error such as `EPIPE`). */
function sqlState(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== "PostgresError") return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The `builtin:postgres_sync` plugin. */
const postgresSync: Plugin<PostgresSyncOptions> = {
  name: "postgres_sync",
  parseOptions: parsePostgresSyncOptions,
  create: createPostgresSync,
  permissions: postgresSyncPermissions,
};

export default postgresSync;
