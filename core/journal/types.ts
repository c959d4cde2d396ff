/**
 * The records the journal stores and reports, shared by its writer, its reader, the inbox and
 * their callers. Types only (and the journal's one error class): importing this module pulls
 * in no SQLite and no file.
 *
 * @module
 */

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

/** The outcome of `JournalWriter.append`. */
export interface AppendResult {
  id: number;
  duplicate: boolean;
}

/**
 * The outcome of `JournalWriter.accept`: stored and indexed, or `"deferred"`: stored in the
 * inbox, to be indexed (and found a duplicate or not) later.
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

/** How far a `JournalWriter.replay` has got. */
export interface ReplayProgress {
  /** Callbacks looked at so far. */
  scanned: number;
  /** Callbacks in the time range. */
  total: number;
  /** Deliveries made pending so far. */
  selected: number;
}

/**
 * What the database records of its inbox: the epoch naming the inbox file it indexes and the
 * offset up to which that file's batches are indexed.
 */
export interface InboxMark {
  epoch: number;
  offset: number;
}

/** Thrown when the journal cannot be written; the callback was not stored. */
export class JournalUnavailableError extends Error {
  override name = "JournalUnavailableError";
}
