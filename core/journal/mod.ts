/**
 * The durable journal: every accepted callback, its per-plugin delivery state, the dedup keys
 * and the quarantine, in one SQLite database in WAL mode, with an append-only inbox file in
 * front of it for `serve`.
 *
 * Two kinds of connection: {@linkcode JournalWriter}, the only one that writes (the main
 * thread's, or the CLI's `status` and `replay`), and {@linkcode JournalReader}, a read-only
 * one beside it (the delivery thread's). Where things are:
 * - `types.ts`: the records stored and reported, and {@linkcode JournalUnavailableError};
 * - `schema.ts`: the tables, {@linkcode SCHEMA_VERSION} and the migrations;
 * - `connection.ts`: the SQLite settings of each kind of connection;
 * - `writer.ts`, `reader.ts`: the two connections;
 * - `group_commit.ts`: the writer's commit queue;
 * - `append.ts`, `row_inserts.ts`: storing a batch of callbacks;
 * - `dedup.ts`: the dedup keys and their hash index;
 * - `inbox.ts`: the inbox file; `indexer.ts`: indexing it into the database;
 * - `reads.ts`: pending deliveries; `maintenance.ts`: replay, prune, status;
 * - `inspect.ts`: dead letters, one callback whole, quarantine, each plugin's last error.
 *
 * @module
 */
export type {
  Accepted,
  AppendResult,
  CallbackRecord,
  Durability,
  InboxMark,
  JournalStatus,
  PendingDelivery,
  PluginStatus,
  QuarantineRecord,
  ReplayProgress,
  ReplaySelection,
} from "./types.ts";
export { JournalUnavailableError } from "./types.ts";
export { SCHEMA_VERSION } from "./schema.ts";
export { JournalWriter, type WriterOptions } from "./writer.ts";
export { JournalReader, type ReaderOptions } from "./reader.ts";
export type { InboxOptions } from "./indexer.ts";
export type { ReplayOptions } from "./maintenance.ts";
export type {
  CallbackDetail,
  DeadLetter,
  DeliveryState,
  ListOptions,
  PluginError,
  QuarantinedRequest,
} from "./inspect.ts";
