/**
 * The inbox file's format, and reading it. Layout: a 24-byte header (16 bytes of magic, then a
 * random 64-bit *epoch* that names this file), then batches. A batch is a 16-byte header
 * (magic, payload bytes, record count, CRC-32 of the payload) and its records; a record is its
 * meta's byte length, its body's byte length, the meta (a JSON array, {@linkcode Meta}) and
 * the body exactly as received. A batch cut short by a crash, or left unreadable by a power
 * loss, was never acknowledged: opening the file truncates it away (`inbox.ts`).
 *
 * The format is on disk: changing it needs a new file magic.
 *
 * @module
 */
import { crc32 } from "node:zlib";
import type { CallbackRecord, InboxMark } from "./types.ts";

const FILE_MAGIC = new TextEncoder().encode("imhookd inbox 1\n");
/** Bytes before the first batch. */
export const INBOX_HEADER_BYTES = FILE_MAGIC.length + 8;
export const BATCH_MAGIC = 0x696d4278;
export const BATCH_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 8;
/** The encoding buffer's usual size: a batch of 64 callbacks of 2 KiB or so. */
export const BUFFER_BYTES = 256 * 1024;

export const UTF8 = new TextEncoder();
const TEXT = new TextDecoder();

export type Meta = [
  sdkAppId: string,
  command: string,
  receivedAt: number,
  groupKey: string | null,
  clientIp: string | null,
  optPlatform: string | null,
  dedupKey: string,
  plugins: readonly string[],
];

export function randomEpoch(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  // 53 bits, so that it is exact as a JavaScript number and as an SQLite integer.
  return (high! & 0x1fffff) * 2 ** 32 + low! || 1;
}

/** Fills `buffer` from offset `at`; undefined if the file ends first. */
function readInto(file: Deno.FsFile, at: number, buffer: Uint8Array): Uint8Array | undefined {
  file.seekSync(at, Deno.SeekMode.Start);
  let done = 0;
  while (done < buffer.length) {
    const n = file.readSync(buffer.subarray(done));
    if (n === null || n === 0) return undefined;
    done += n;
  }
  return buffer;
}

export function readFully(file: Deno.FsFile, at: number, length: number): Uint8Array | undefined {
  return readInto(file, at, new Uint8Array(length));
}

export function writeFully(file: Deno.FsFile, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += file.writeSync(bytes.subarray(done));
}

/** The epoch in a file's header, or undefined if it is not an inbox. */
export function epochOf(header: Uint8Array | undefined): number | undefined {
  if (header === undefined || header.length < INBOX_HEADER_BYTES) return undefined;
  for (let i = 0; i < FILE_MAGIC.length; i++) if (header[i] !== FILE_MAGIC[i]) return undefined;
  return new DataView(header.buffer, header.byteOffset).getFloat64(FILE_MAGIC.length);
}

export function fileHeader(epoch: number): Uint8Array {
  const header = new Uint8Array(INBOX_HEADER_BYTES);
  header.set(FILE_MAGIC);
  new DataView(header.buffer).setFloat64(FILE_MAGIC.length, epoch);
  return header;
}

/**
 * Where batches are read: one buffer for every read, so that reading a large backlog (at
 * open, to check it; then to index it) allocates nothing per batch. A batch read is used up
 * before the next read.
 */
let scratch = new Uint8Array(BUFFER_BYTES);

/** Reads `length` bytes at `at` into the scratch buffer; undefined if the file ends first. */
function readScratch(file: Deno.FsFile, at: number, length: number): Uint8Array | undefined {
  if (scratch.length < length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length));
  return readInto(file, at, scratch.subarray(0, length));
}

/** Back to the usual size after a batch much larger than usual. */
export function shrinkScratch(): void {
  if (scratch.length > 4 * BUFFER_BYTES) scratch = new Uint8Array(BUFFER_BYTES);
}

/**
 * The header of the batch at `at` in a file of `size` bytes, if one starts there and the
 * file holds all of its payload (`bytes`, header included).
 */
export function batchHeaderAt(
  file: Deno.FsFile,
  at: number,
  size: number,
): { bytes: number; count: number; crc: number } | undefined {
  if (size - at < BATCH_HEADER_BYTES) return undefined;
  const header = readScratch(file, at, BATCH_HEADER_BYTES);
  if (header === undefined) return undefined;
  const view = new DataView(header.buffer, header.byteOffset, BATCH_HEADER_BYTES);
  if (view.getUint32(0) !== BATCH_MAGIC) return undefined;
  const payload = view.getUint32(4);
  if (size - at - BATCH_HEADER_BYTES < payload) return undefined;
  return {
    bytes: BATCH_HEADER_BYTES + payload,
    count: view.getUint32(8),
    crc: view.getUint32(12),
  };
}

/**
 * The batch at `at`, if a whole, intact batch starts there; its payload is in the scratch
 * buffer until the next read.
 */
export function batchAt(
  file: Deno.FsFile,
  at: number,
  size: number,
): { bytes: number; count: number; payload: Uint8Array } | undefined {
  const header = batchHeaderAt(file, at, size);
  if (header === undefined) return undefined;
  const payload = readScratch(file, at + BATCH_HEADER_BYTES, header.bytes - BATCH_HEADER_BYTES);
  if (payload === undefined || crc32(payload) >>> 0 !== header.crc) return undefined;
  return { bytes: header.bytes, count: header.count, payload };
}

/**
 * Where indexing resumes in a file named `epoch`, given what the journal recorded: its offset
 * in the same file, else the first batch (a newer file, started after the recorded one was
 * all indexed).
 */
export function resumeAt(known: InboxMark | undefined, epoch: number): number {
  return known !== undefined && known.epoch === epoch ? known.offset : INBOX_HEADER_BYTES;
}

export function decodeRecords(payload: Uint8Array, count: number, into: CallbackRecord[]): void {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const metaBytes = view.getUint32(at);
    const bodyBytes = view.getUint32(at + 4);
    at += RECORD_HEADER_BYTES;
    const meta = JSON.parse(TEXT.decode(payload.subarray(at, at + metaBytes))) as Meta;
    at += metaBytes;
    const body = TEXT.decode(payload.subarray(at, at + bodyBytes));
    at += bodyBytes;
    into.push({
      sdkAppId: meta[0],
      command: meta[1],
      receivedAt: meta[2],
      groupKey: meta[3] ?? undefined,
      clientIp: meta[4] ?? undefined,
      optPlatform: meta[5] ?? undefined,
      dedupKey: meta[6],
      plugins: meta[7],
      body,
    });
  }
}
