/**
 * What operators look at in the journal: the dead letters with their errors, one callback
 * whole with its delivery state per plugin, the quarantined requests, and each plugin's most
 * recent error. Functions of a connection (a {@linkcode JournalReader}'s), for the CLI's
 * `dead`, `show` and `quarantine` and the admin status page.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { DecisionRecord } from "../../plugin.ts";
import { deliveryPlugins } from "./maintenance.ts";

/** A callback a plugin gave up on. */
export interface DeadLetter {
  /** The callback's journal id. */
  id: number;
  plugin: string;
  command: string;
  sdkAppId: string;
  /** The ordering group (`g:GroupId`, `c2c:[a,b]`), or null. */
  groupKey: string | null;
  attempts: number;
  /** The last attempt's error, with its causes. */
  error: string | null;
  /** When the callback was received (ms since the epoch). */
  receivedAt: number;
  /** When the delivery became a dead letter (ms since the epoch). */
  diedAt: number;
}

/** Where one plugin is with one callback (no row: delivered, or never routed to it). */
export interface DeliveryState {
  plugin: string;
  state: "pending" | "dead";
  /** Attempts made so far. */
  attempts: number;
  /**
   * A pending delivery's next attempt, not before this time; a dead one's death (ms since the
   * epoch).
   */
  nextAt: number;
  error: string | null;
}

/** One stored callback, whole, with its deliveries still pending or dead. */
export interface CallbackDetail {
  id: number;
  receivedAt: number;
  sdkAppId: string;
  command: string;
  groupKey: string | null;
  clientIp: string | null;
  optPlatform: string | null;
  /** The body exactly as received. */
  body: string;
  /** How a decision callback was decided and answered; null for other callbacks. */
  decision: DecisionRecord | null;
  /** Columns of `callbacks` beside these, by name. */
  extra: Record<string, unknown>;
  deliveries: DeliveryState[];
}

/** A request kept raw because it failed its checks. */
export interface QuarantinedRequest {
  id: number;
  receivedAt: number;
  sdkAppId: string;
  command: string | null;
  /** The query string, without `Sign`. */
  query: string;
  /** Why it was not accepted. */
  reason: string;
  body: Uint8Array;
}

/** The most recent error of a plugin: of a delivery being retried, else of a dead letter. */
export interface PluginError {
  plugin: string;
  callbackId: number;
  state: "pending" | "dead";
  attempts: number;
  error: string;
}

/** Options of the lists: at most `limit` rows, newest first. */
export interface ListOptions {
  /** Only this plugin's (dead letters). */
  plugin?: string | undefined;
  /** Default: all. */
  limit?: number | undefined;
}

const COLUMNS = new Set([
  "id",
  "received_at",
  "sdk_app_id",
  "command",
  "group_key",
  "client_ip",
  "opt_platform",
  "body",
  "decision",
]);

/** The dead letters, newest callback first. */
export function deadLetters(db: DatabaseSync, options: ListOptions = {}): DeadLetter[] {
  return db.prepare(
    `SELECT c.id, d.plugin, c.command, c.sdk_app_id AS sdkAppId, c.group_key AS groupKey,
            d.attempts, d.last_error AS error, c.received_at AS receivedAt, d.next_at AS diedAt
     FROM deliveries d JOIN callbacks c ON c.id = d.callback_id
     WHERE d.state = 'dead' AND (?1 IS NULL OR d.plugin = ?1)
     ORDER BY d.callback_id DESC, d.plugin LIMIT ?2`,
  ).all(options.plugin ?? null, options.limit ?? -1).map(plain) as unknown as DeadLetter[];
}

/** The callback with journal id `id`, and its deliveries not done; undefined when absent. */
export function callbackDetail(db: DatabaseSync, id: number): CallbackDetail | undefined {
  const row = db.prepare("SELECT * FROM callbacks WHERE id = ?").get(id) as
    | Record<string, unknown>
    | undefined;
  if (row === undefined) return undefined;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) if (!COLUMNS.has(key)) extra[key] = value;
  // One primary key look-up per plugin: there is no index on callback_id alone.
  const deliveries = db.prepare(
    `SELECT plugin, state, attempts, next_at AS nextAt, last_error AS error FROM deliveries
     WHERE plugin IN (SELECT value FROM json_each(?)) AND callback_id = ? ORDER BY plugin`,
  ).all(JSON.stringify(deliveryPlugins(db)), id).map(plain) as unknown as DeliveryState[];
  return {
    id: row.id as number,
    receivedAt: row.received_at as number,
    sdkAppId: row.sdk_app_id as string,
    command: row.command as string,
    groupKey: row.group_key as string | null,
    clientIp: row.client_ip as string | null,
    optPlatform: row.opt_platform as string | null,
    body: row.body as string,
    decision: typeof row.decision === "string" ? JSON.parse(row.decision) : null,
    extra,
    deliveries,
  };
}

/** The quarantined requests, newest first. */
export function quarantined(db: DatabaseSync, options: ListOptions = {}): QuarantinedRequest[] {
  return db.prepare(
    `SELECT id, received_at AS receivedAt, sdk_app_id AS sdkAppId, command, query, reason, body
     FROM quarantine ORDER BY id DESC LIMIT ?`,
  ).all(options.limit ?? -1).map(plain) as unknown as QuarantinedRequest[];
}

/**
 * Each plugin's most recent error: of its delivery being retried that is due last (the
 * latest to fail), else of its newest dead letter. Plugins without one are left out.
 */
export function lastErrors(db: DatabaseSync): PluginError[] {
  const retrying = db.prepare(
    `SELECT callback_id AS callbackId, state, attempts, last_error AS error FROM deliveries
     WHERE plugin = ? AND state = 'pending' AND last_error IS NOT NULL
     ORDER BY next_at DESC LIMIT 1`,
  );
  const dead = db.prepare(
    `SELECT callback_id AS callbackId, state, attempts, last_error AS error FROM deliveries
     WHERE plugin = ? AND state = 'dead' AND last_error IS NOT NULL
     ORDER BY callback_id DESC LIMIT 1`,
  );
  const errors: PluginError[] = [];
  for (const plugin of deliveryPlugins(db)) {
    const row = (retrying.get(plugin) ?? dead.get(plugin)) as
      | Omit<PluginError, "plugin">
      | undefined;
    if (row !== undefined) errors.push({ plugin, ...row });
  }
  return errors;
}

/** A row as a plain object (node:sqlite's have a null prototype). */
function plain(row: object): object {
  return { ...row };
}
