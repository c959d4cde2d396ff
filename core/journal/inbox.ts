/**
 * The journal's inbox: an append-only file beside the journal's database
 * (`<journal path>-inbox`) where the listener stores each batch of accepted callbacks, with
 * one write (and, with `durability: fsync`, one fdatasync), before it answers them. The
 * journal's writer then indexes the batches into its database (`indexer.ts`), at once when the
 * listener has time, later when it is saturated; the database records how far it got, in the
 * same transaction as the rows it added, so a crash neither loses nor repeats a batch.
 * The file's layout is in `inbox_format.ts`.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { crc32 } from "node:zlib";
import type { CallbackRecord, Durability, InboxMark } from "./types.ts";
import { createPrivately, FILE_MODE } from "../file_mode.ts";
import {
  BATCH_HEADER_BYTES,
  BATCH_MAGIC,
  batchAt,
  batchHeaderAt,
  BUFFER_BYTES,
  decodeRecords,
  epochOf,
  fileHeader,
  INBOX_HEADER_BYTES,
  type Meta,
  randomEpoch,
  readFully,
  RECORD_HEADER_BYTES,
  resumeAt,
  shrinkScratch,
  UTF8,
  writeFully,
} from "./inbox_format.ts";
export { INBOX_HEADER_BYTES } from "./inbox_format.ts";

/** The file of the inbox of the journal at `journalPath`. */
export function inboxPath(journalPath: string): string {
  return `${journalPath}-inbox`;
}

/** Thrown when the inbox cannot be written; the batch was not stored. */
export class InboxWriteError extends Error {
  override name = "InboxWriteError";
}

/** Where a batch of records starts and ends in the file. */
export interface InboxRange {
  start: number;
  end: number;
}

/** Records read from the inbox, and the offset after the last batch read. */
export interface InboxRead {
  records: CallbackRecord[];
  next: number;
}

function writeError(error: unknown): InboxWriteError {
  const reason = error instanceof Error ? error.message : String(error);
  return new InboxWriteError(`Cannot write the journal's inbox: ${reason}`, { cause: error });
}

/**
 * Holds `<inbox>.lock` for as long as the inbox is open: an exclusive SQLite transaction on
 * an empty database, because SQLite's file locks fail at once (Deno's `FsFile.lock` would
 * wait), and a second connection fails even in the same process. The kernel releases it
 * when the process dies.
 */
function lockInbox(path: string): DatabaseSync {
  createPrivately(`${path}.lock`);
  const lock = new DatabaseSync(`${path}.lock`);
  try {
    lock.exec("PRAGMA busy_timeout = 0");
    // No rollback journal file beside it: the transaction never writes.
    lock.exec("PRAGMA journal_mode = MEMORY");
    lock.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    lock.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `${path} is in use by another imhookd serve on the same journal (its lock file ${path}.lock: ${reason})`,
    );
  }
  return lock;
}

/** The inbox file. Open with {@linkcode Inbox.open}; only one process may append to it. */
export class Inbox {
  readonly path: string;
  #lock: DatabaseSync;
  #durability: Durability;
  #file: Deno.FsFile;
  #epoch: number;
  #size: number;
  /** The batch at the end failed to write and could not be cut off: cut it before the next. */
  #dirty = false;
  /** Where the next batch is encoded; grown as needed, shrunk back after a large batch. */
  #buffer = new Uint8Array(BUFFER_BYTES);
  #view = new DataView(this.#buffer.buffer);

  private constructor(
    path: string,
    lock: DatabaseSync,
    durability: Durability,
    file: Deno.FsFile,
    epoch: number,
    size: number,
  ) {
    this.path = path;
    this.#lock = lock;
    this.#durability = durability;
    this.#file = file;
    this.#epoch = epoch;
    this.#size = size;
  }

  /**
   * Opens (creating if needed) the inbox at `path`. `known` is what the journal recorded:
   * the epoch of the file it last indexed and how far. Returns the inbox and where indexing
   * resumes: that offset in the same file, else the first batch of a newer file (one that
   * was started after everything in the recorded one was indexed). A torn last batch is cut.
   */
  static open(
    path: string,
    durability: Durability,
    known: InboxMark | undefined,
  ): { inbox: Inbox; resume: number } {
    const lock = lockInbox(path);
    try {
      return Inbox.#open(path, lock, durability, known);
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  static #open(
    path: string,
    lock: DatabaseSync,
    durability: Durability,
    known: InboxMark | undefined,
  ): { inbox: Inbox; resume: number } {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true, write: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      return { inbox: Inbox.#create(path, lock, durability), resume: INBOX_HEADER_BYTES };
    }
    try {
      const size = file.statSync().size;
      const epoch = epochOf(readFully(file, 0, INBOX_HEADER_BYTES));
      if (epoch === undefined) {
        // Only a crash while creating it leaves a file shorter than its header.
        if (size >= INBOX_HEADER_BYTES) {
          throw new Error(`${path} is not an imhookd inbox (its header is not one)`);
        }
        file.close();
        return { inbox: Inbox.#create(path, lock, durability), resume: INBOX_HEADER_BYTES };
      }
      const resume = resumeAt(known, epoch);
      if (resume > size) {
        throw new Error(
          `${path} ends at byte ${size}, before the journal's record of it (${resume})`,
        );
      }
      let end = resume;
      for (;;) {
        const batch = batchAt(file, end, size);
        if (batch === undefined) break;
        end += batch.bytes;
      }
      shrinkScratch();
      if (end < size) {
        file.truncateSync(end);
        if (durability === "fsync") file.syncDataSync();
      }
      return { inbox: new Inbox(path, lock, durability, file, epoch, end), resume };
    } catch (error) {
      file.close();
      throw error;
    }
  }

  static #create(path: string, lock: DatabaseSync, durability: Durability): Inbox {
    const epoch = randomEpoch();
    const temporary = `${path}.new`;
    const file = Deno.openSync(temporary, {
      read: true,
      write: true,
      create: true,
      truncate: true,
      mode: FILE_MODE,
    });
    try {
      writeFully(file, fileHeader(epoch));
      if (durability === "fsync") file.syncSync();
      Deno.renameSync(temporary, path);
      if (durability === "fsync") syncFolderOf(path);
    } catch (error) {
      file.close();
      throw error;
    }
    return new Inbox(path, lock, durability, file, epoch, INBOX_HEADER_BYTES);
  }

  /** Makes the encoding buffer hold at least `bytes`, keeping what it holds. */
  #reserve(bytes: number): void {
    if (bytes <= this.#buffer.length) return;
    const larger = new Uint8Array(Math.max(bytes, 2 * this.#buffer.length));
    larger.set(this.#buffer);
    this.#buffer = larger;
    this.#view = new DataView(larger.buffer);
  }

  /** Names this file: a new file (see {@linkcode Inbox.restart}) has a new one. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The offset after the last batch stored. */
  get size(): number {
    return this.#size;
  }

  /**
   * Stores `records` as one batch, with one write (and an fdatasync with `durability: fsync`);
   * throws {@linkcode InboxWriteError} if it cannot, after cutting off what it wrote.
   */
  append(records: readonly CallbackRecord[]): InboxRange {
    // Encoded straight into one buffer kept for the next batch: no copy per record.
    let at = BATCH_HEADER_BYTES;
    for (const record of records) {
      const meta = JSON.stringify(
        [
          record.sdkAppId,
          record.command,
          record.receivedAt,
          record.groupKey ?? null,
          record.clientIp ?? null,
          record.optPlatform ?? null,
          record.dedupKey,
          record.plugins,
        ] satisfies Meta,
      );
      const body = record.bodyBytes;
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      this.#reserve(
        at + RECORD_HEADER_BYTES + 3 * meta.length + (body?.length ?? 3 * record.body.length),
      );
      const buffer = this.#buffer;
      const metaBytes = UTF8.encodeInto(meta, buffer.subarray(at + RECORD_HEADER_BYTES)).written;
      const bodyAt = at + RECORD_HEADER_BYTES + metaBytes;
      let bodyBytes: number;
      if (body !== undefined) {
        buffer.set(body, bodyAt);
        bodyBytes = body.length;
      } else {
        bodyBytes = UTF8.encodeInto(record.body, buffer.subarray(bodyAt)).written;
      }
      this.#view.setUint32(at, metaBytes);
      this.#view.setUint32(at + 4, bodyBytes);
      at = bodyAt + bodyBytes;
    }
    const view = this.#view;
    view.setUint32(0, BATCH_MAGIC);
    view.setUint32(4, at - BATCH_HEADER_BYTES);
    view.setUint32(8, records.length);
    view.setUint32(12, crc32(this.#buffer.subarray(BATCH_HEADER_BYTES, at)) >>> 0);
    const batch = this.#buffer.subarray(0, at);
    const start = this.#size;
    try {
      if (this.#dirty) {
        this.#file.truncateSync(start);
        this.#dirty = false;
      }
      this.#file.seekSync(start, Deno.SeekMode.Start);
      writeFully(this.#file, batch);
      if (this.#durability === "fsync") this.#file.syncDataSync();
    } catch (error) {
      // Cut off what was written (a full disk writes part of a batch), so that the next
      // batch follows the last whole one; if that fails too, the next append tries again.
      try {
        this.#file.truncateSync(start);
      } catch {
        this.#dirty = true;
      }
      throw writeError(error);
    }
    this.#size = start + batch.length;
    if (this.#buffer.length > 4 * BUFFER_BYTES) {
      this.#buffer = new Uint8Array(BUFFER_BYTES);
      this.#view = new DataView(this.#buffer.buffer);
    }
    return { start, end: this.#size };
  }

  /**
   * Reads whole batches from offset `from` until at least `limit` records are read or the
   * stored batches end. Throws if a batch stored by this inbox does not read back intact.
   */
  read(from: number, limit: number): InboxRead {
    const records: CallbackRecord[] = [];
    let next = from;
    while (records.length < limit && next < this.#size) {
      const batch = batchAt(this.#file, next, this.#size);
      if (batch === undefined) {
        throw new Error(`${this.path}: the batch at byte ${next} does not read back intact`);
      }
      decodeRecords(batch.payload, batch.count, records);
      next += batch.bytes;
    }
    shrinkScratch();
    return { records, next };
  }

  /**
   * Checks that a batch of `bytes` can be written now: writes that many bytes after the last
   * batch and cuts them off again. Throws {@linkcode InboxWriteError} if it cannot.
   */
  probe(bytes: number): void {
    const start = this.#size;
    try {
      this.#file.seekSync(start, Deno.SeekMode.Start);
      writeFully(this.#file, new Uint8Array(bytes));
    } catch (error) {
      throw writeError(error);
    } finally {
      try {
        this.#file.truncateSync(start);
      } catch {
        this.#dirty = true;
      }
    }
  }

  /**
   * Starts a new, empty file with a new epoch in place of this one, whose batches must all
   * be indexed already. (The journal records the new epoch afterwards; a crash before it
   * does resumes at the new file's first batch, which is right: the old one was done.)
   */
  restart(): void {
    const next = Inbox.#create(this.path, this.#lock, this.#durability);
    this.#file.close();
    this.#file = next.#file;
    this.#epoch = next.#epoch;
    this.#size = next.#size;
    this.#dirty = false;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
    if (this.#lock.isOpen) this.#lock.close();
  }
}

function syncFolderOf(path: string): void {
  const slash = path.lastIndexOf("/");
  const folder = slash > 0 ? path.slice(0, slash) : slash === 0 ? "/" : ".";
  try {
    const dir = Deno.openSync(folder, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  } catch {
    // Not every platform can fsync a folder; the rename is then as durable as it gets.
  }
}

/**
 * How much of the inbox at `path` is stored but not yet indexed by a journal that recorded
 * `known`, without opening it for writing (for `status` and the benchmarks). Counts the
 * records by reading the batch headers only; with `count: false`, not at all (records 0).
 */
export function inboxBacklog(
  path: string,
  known: InboxMark | undefined,
  options: { count?: boolean } = {},
): { bytes: number; records: number } {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { bytes: 0, records: 0 };
    throw error;
  }
  try {
    const size = file.statSync().size;
    const epoch = epochOf(readFully(file, 0, INBOX_HEADER_BYTES));
    if (epoch === undefined) return { bytes: 0, records: 0 };
    const from = resumeAt(known, epoch);
    if (options.count === false) return { bytes: Math.max(0, size - from), records: 0 };
    let records = 0;
    let at = from;
    for (;;) {
      const header = batchHeaderAt(file, at, size);
      if (header === undefined) break;
      records += header.count;
      at += header.bytes;
    }
    return { bytes: at - from, records };
  } finally {
    file.close();
  }
}
