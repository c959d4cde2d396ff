/**
 * `builtin:file_logger`: appends one JSON line per callback to a file, with size-based rotation,
 * payload redaction and optional fsync. A line is complete or absent: a torn last line left by a
 * crash is cut off when the plugin starts again.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import type {
  CallbackEvent,
  DecisionRecord,
  Handler,
  Plugin,
  PluginContext,
  PluginLogger,
  PluginOptionsContext,
} from "../plugin.ts";
import { parseSize } from "../core/config/units.ts";
import { FILE_MODE } from "../core/file_mode.ts";
import { isRecord, OptionErrors, show } from "./_options.ts";

/** Size-based rotation of the log file. */
export interface FileLoggerRotate {
  /** The current file never grows past this many bytes (a single longer line gets a file alone). */
  maxBytes: number;
  /** How many rotated files (`PATH.1` ... `PATH.keep`) are kept. */
  keep: number;
}

/** The parsed options of `builtin:file_logger`. */
export interface FileLoggerOptions {
  /** Absolute path of the log file. */
  path: string;
  /** Rotation settings; no rotation when absent. */
  rotate?: FileLoggerRotate;
  /** Payload field paths (dot separated, e.g. `Info.Reason`) whose values are replaced by `""`. */
  redact: string[];
  /** Flush every write to the disk (`fdatasync`) before `handle` resolves. */
  fsync: boolean;
}

const OPTION_KEYS = ["path", "rotate", "redact", "fsync"];
const ROTATE_KEYS = ["max_bytes", "keep"];
const DEFAULT_KEEP = 5;
const NEWLINE = 0x0a;
const encoder = new TextEncoder();

/** `builtin:file_logger`: one JSON line per callback. */
const fileLogger = {
  name: "file_logger",
  parseOptions(raw: unknown, ctx: PluginOptionsContext): FileLoggerOptions {
    return parseFileLoggerOptions(raw, ctx.configDir);
  },
  /** Its folder, where it creates, repairs and rotates its files. */
  permissions(options: FileLoggerOptions): Deno.PermissionOptionsObject {
    const folder = dirname(options.path);
    return { read: [folder], write: [folder] };
  },
  async create(options: FileLoggerOptions, ctx: PluginContext): Promise<Handler> {
    await Deno.mkdir(dirname(options.path), { recursive: true });
    await repairTornLine(options.path, ctx.logger);
    const writer = new LineWriter(options, ctx.logger);
    await writer.open();
    return writer;
  },
} satisfies Plugin<FileLoggerOptions>;

export default fileLogger;

/** Formats one callback as its log line, newline included. Never mutates `event.payload`. */
export function formatLogLine(event: CallbackEvent, redact: readonly string[] = []): string {
  const head: Record<string, unknown> = {
    id: event.id,
    received_at: new Date(event.receivedAt).toISOString(),
    command: event.command,
    sdk_app_id: event.sdkAppId,
    client_ip: event.clientIp ?? null,
    opt_platform: event.optPlatform ?? null,
  };
  if (event.decision !== undefined) head.decision = redactDecision(event.decision, redact);
  // The body as received is already the payload's JSON (the listener parsed it before
  // journaling it): written as is unless redacted or spread over several lines, it spares
  // parsing and serialising the payload again.
  if (redact.length === 0 && !LINE_BREAK.test(event.rawBody)) {
    return `${JSON.stringify(head).slice(0, -1)},"payload":${event.rawBody.trim()}}\n`;
  }
  let payload: unknown = event.payload;
  for (const path of redact) payload = blank(payload, path.split("."), 0);
  return JSON.stringify({ ...head, payload }) + "\n";
}

const LINE_BREAK = /[\r\n]/;

/** The decision with the redacted payload fields blanked in its replacements too. */
function redactDecision(decision: DecisionRecord, redact: readonly string[]): unknown {
  if (decision.replace === undefined || redact.length === 0) return decision;
  let replace: unknown = decision.replace;
  for (const path of redact) replace = blank(replace, path.split("."), 0);
  return { ...decision, replace };
}

/** Returns a copy of `value` with the field at `keys[i..]` set to "" (arrays apply it to each item). */
function blank(value: unknown, keys: readonly string[], i: number): unknown {
  if (Array.isArray(value)) return value.map((item) => blank(item, keys, i));
  const key = keys[i]!;
  if (!isRecord(value) || !Object.hasOwn(value, key)) return value;
  const last = i === keys.length - 1;
  // fromEntries defines own properties, so a "__proto__" key stays an ordinary field.
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k !== key ? v : last ? "" : blank(v, keys, i + 1)]),
  );
}

function parseFileLoggerOptions(raw: unknown, configDir: string): FileLoggerOptions {
  const options = raw ?? {};
  if (!isRecord(options)) {
    throw new TypeError(`options: expected a mapping, got ${show(raw)}`);
  }
  const errors = new OptionErrors();
  errors.unknownKeys(options, OPTION_KEYS, "options");

  const path = errors.check(() => {
    const path = options.path;
    if (path === undefined) {
      throw new TypeError(`options.path: required, e.g. ./logs/callbacks.jsonl`);
    }
    if (typeof path !== "string" || path.trim() === "") {
      throw new TypeError(`options.path: expected a non-empty string, got ${show(path)}`);
    }
    return resolve(configDir, path);
  });

  const fsync = errors.check(() => {
    const fsync = options.fsync ?? false;
    if (typeof fsync !== "boolean") {
      throw new TypeError(`options.fsync: expected true or false, got ${show(fsync)}`);
    }
    return fsync;
  });

  const redact = errors.check(() => {
    const redact = options.redact ?? [];
    if (!Array.isArray(redact)) {
      throw new TypeError(`options.redact: expected a list of field paths, got ${show(redact)}`);
    }
    return redact as string[];
  });
  redact?.forEach((item, i) =>
    errors.check(() => {
      if (typeof item !== "string") {
        throw new TypeError(`options.redact[${i}]: expected a string, got ${show(item)}`);
      }
      if (item.split(".").some((part) => part === "")) {
        throw new RangeError(
          `options.redact[${i}]: expected a field path such as "MsgBody" or "Info.Reason", got ${
            show(item)
          }`,
        );
      }
    })
  );

  const rotate = options.rotate !== undefined && options.rotate !== null
    ? parseRotate(options.rotate, errors)
    : undefined;
  errors.throwIfAny();
  const parsed: FileLoggerOptions = { path: path!, redact: redact!, fsync: fsync! };
  if (rotate !== undefined) parsed.rotate = rotate;
  return parsed;
}

/** `options.rotate`, its problems kept in `errors`; undefined when it has any. */
function parseRotate(raw: unknown, errors: OptionErrors): FileLoggerRotate | undefined {
  if (!isRecord(raw)) {
    errors.check(() => {
      throw new TypeError(
        `options.rotate: expected a mapping with max_bytes and keep, got ${show(raw)}`,
      );
    });
    return undefined;
  }
  errors.unknownKeys(raw, ROTATE_KEYS, "options.rotate");
  const maxBytes = errors.check(() => {
    const rawMax = raw.max_bytes;
    if (rawMax === undefined) {
      throw new TypeError(`options.rotate.max_bytes: required, e.g. 10MiB`);
    }
    if (typeof rawMax !== "string" && typeof rawMax !== "number") {
      throw new TypeError(
        `options.rotate.max_bytes: expected a size such as 10MiB, got ${show(rawMax)}`,
      );
    }
    let maxBytes: number;
    try {
      maxBytes = parseSize(rawMax, { bareBytes: true });
    } catch {
      throw new RangeError(
        `options.rotate.max_bytes: expected a size such as 10MiB, got ${show(rawMax)}`,
      );
    }
    if (maxBytes < 1) {
      throw new RangeError(
        `options.rotate.max_bytes: expected a size above 0, got ${show(rawMax)}`,
      );
    }
    return maxBytes;
  });
  const keep = errors.check(() => {
    const keep = raw.keep ?? DEFAULT_KEEP;
    if (typeof keep !== "number") {
      throw new TypeError(`options.rotate.keep: expected an integer >= 1, got ${show(keep)}`);
    }
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw new RangeError(`options.rotate.keep: expected an integer >= 1, got ${show(keep)}`);
    }
    return keep;
  });
  return maxBytes === undefined || keep === undefined ? undefined : { maxBytes, keep };
}

/** One line waiting to be written, and the `handle` call waiting for it. */
interface PendingLine {
  line: string;
  resolve(): void;
  reject(reason: unknown): void;
}

/** A batch's buffer grows for large lines, then shrinks back past this size. */
const SCRATCH_BYTES = 256 * 1024;

/**
 * Appends lines to the log file. Lines queued while a write is under way (or in the same tick)
 * go out together in one write call, split only where rotation falls.
 */
class LineWriter implements Handler {
  #options: FileLoggerOptions;
  #logger: PluginLogger;
  #file: Deno.FsFile | undefined;
  #size = 0;
  #queue: PendingLine[] = [];
  #draining: Promise<void> | undefined;
  #closed = false;
  #scratch = new Uint8Array(SCRATCH_BYTES);

  constructor(options: FileLoggerOptions, logger: PluginLogger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** Opens (or creates, mode 0640) the current file in append mode. */
  async open(): Promise<void> {
    const file = await Deno.open(this.#options.path, {
      append: true,
      create: true,
      mode: FILE_MODE,
    });
    try {
      this.#size = (await file.stat()).size;
    } catch (error) {
      file.close();
      throw error;
    }
    this.#file = file;
  }

  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new TypeError(`Cannot write to "${this.#options.path}": the file logger is closed`),
      );
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    let line: string;
    try {
      line = formatLogLine(event, this.#options.redact);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line, resolve, reject });
      this.#draining ??= this.#drain();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    while (this.#draining) await this.#draining;
    this.#file?.close();
    this.#file = undefined;
  }

  async #drain(): Promise<void> {
    // Let the lines handed over in this tick join the first write.
    await null;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      await this.#writeBatch(batch);
    }
    this.#draining = undefined;
  }

  /** Writes the batch; settles every line's promise and never throws. */
  async #writeBatch(batch: PendingLine[]): Promise<void> {
    const ends = this.#encode(batch);
    let start = 0;
    try {
      while (start < batch.length) {
        if (this.#file === undefined) await this.open();
        const end = this.#fitting(ends, start);
        if (end === start) {
          await this.#rotate();
          continue;
        }
        await this.#write(start === 0 ? 0 : ends[start - 1]!, ends[end - 1]!);
        for (let i = start; i < end; i++) batch[i]!.resolve();
        start = end;
      }
    } catch (error) {
      for (let i = start; i < batch.length; i++) batch[i]!.reject(error);
    }
    if (this.#scratch.length > SCRATCH_BYTES) this.#scratch = new Uint8Array(SCRATCH_BYTES);
  }

  /** Encodes the batch into the scratch buffer; returns where each line ends in it. */
  #encode(batch: PendingLine[]): number[] {
    const ends: number[] = [];
    let offset = 0;
    for (const { line } of batch) {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit.
      const needed = offset + line.length * 3;
      if (needed > this.#scratch.length) {
        const grown = new Uint8Array(Math.max(needed, this.#scratch.length * 2));
        grown.set(this.#scratch.subarray(0, offset));
        this.#scratch = grown;
      }
      offset += encoder.encodeInto(line, this.#scratch.subarray(offset)).written;
      ends.push(offset);
    }
    return ends;
  }

  /** The end of the run of lines from `start` that fits in the current file. */
  #fitting(ends: number[], start: number): number {
    const maxBytes = this.#options.rotate?.maxBytes;
    if (maxBytes === undefined) return ends.length;
    const base = this.#size - (start === 0 ? 0 : ends[start - 1]!);
    let end = start;
    // An empty file takes a line of any length, so an oversized line cannot stall the queue.
    while (
      end < ends.length && (base + ends[end]! <= maxBytes || end === start && this.#size === 0)
    ) {
      end++;
    }
    return end;
  }

  /** Appends the scratch bytes `from..to` with as many write calls as it takes. */
  async #write(from: number, to: number): Promise<void> {
    const file = this.#file!;
    const buffer = this.#scratch.subarray(from, to);
    try {
      let written = 0;
      while (written < buffer.length) written += await file.write(buffer.subarray(written));
    } catch (error) {
      await this.#cutBack(file);
      throw error;
    }
    this.#size += buffer.length;
    if (this.#options.fsync) await file.syncData();
  }

  /** After a failed write, removes whatever part of it reached the file. */
  async #cutBack(file: Deno.FsFile): Promise<void> {
    try {
      await file.truncate(this.#size);
    } catch (error) {
      this.#logger.error("Cannot cut a partly written line off {path}: {error}", {
        path: this.#options.path,
        error: String(error),
      });
      // Reopening re-reads the size; the torn tail is repaired at the next start.
      file.close();
      this.#file = undefined;
    }
  }

  async #rotate(): Promise<void> {
    const { path } = this.#options;
    const keep = this.#options.rotate!.keep;
    this.#file?.close();
    this.#file = undefined;
    for (let i = keep - 1; i >= 1; i--) {
      try {
        await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    await Deno.rename(path, `${path}.1`);
    this.#logger.debug("Rotated {path}", { path });
    await this.open();
  }
}

/** Cuts the file back to its last newline when a crash left half a line at its end. */
async function repairTornLine(path: string, logger: PluginLogger): Promise<void> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true, write: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  using _ = file;
  const size = (await file.stat()).size;
  const buffer = new Uint8Array(64 * 1024);
  let end = size;
  let cut = 0;
  while (end > 0) {
    const start = Math.max(0, end - buffer.length);
    const chunk = buffer.subarray(0, end - start);
    await file.seek(start, Deno.SeekMode.Start);
    let read = 0;
    while (read < chunk.length) {
      const n = await file.read(chunk.subarray(read));
      if (n === null) throw new RangeError(`Cannot read "${path}": it shrank while being read`);
      read += n;
    }
    const newline = chunk.lastIndexOf(NEWLINE);
    if (newline !== -1) {
      cut = start + newline + 1;
      break;
    }
    end = start;
  }
  if (cut === size) return;
  await file.truncate(cut);
  logger.warn("Cut a torn last line of {bytes} bytes off {path}", { bytes: size - cut, path });
}
