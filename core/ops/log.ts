/**
 * Logging through LogTape: pretty lines on a terminal, JSON lines otherwise, written
 * synchronously to stderr so nothing is lost at exit.
 *
 * @module
 */
import process from "node:process";
import {
  configureSync,
  getAnsiColorFormatter,
  getLogger,
  type Logger,
  type LogRecord,
  resetSync,
  type TextFormatter,
} from "@logtape/logtape";

/** The levels the config accepts. */
export type LogLevel = "debug" | "info" | "warning" | "error";

/** The root category of every imhookd logger. */
export const ROOT_CATEGORY = "imhookd";

/** The logger of a part of imhookd, e.g. `logger("server")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...category]);
}

/** Options of {@linkcode setupLogging}. */
export interface LoggingOptions {
  level: LogLevel;
  /** `auto` picks `pretty` when stderr is a terminal. */
  format: "auto" | "json" | "pretty";
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
}

/**
 * Configures LogTape for the process (and routes its warnings, see {@linkcode routeWarnings});
 * call again to change level or format.
 */
export function setupLogging(options: LoggingOptions): void {
  routeWarnings();
  const pretty = options.format === "pretty" ||
    (options.format === "auto" && Deno.stderr.isTerminal());
  const formatter: TextFormatter = pretty
    ? getAnsiColorFormatter({ timestamp: "date-time-tz", value: "bare" })
    : jsonLine;
  const write = options.write ?? writeStderr;
  resetSync();
  configureSync({
    sinks: { out: (record: LogRecord) => write(scrubSecrets(formatter(record))) },
    loggers: [
      { category: [ROOT_CATEGORY], lowestLevel: options.level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/**
 * Routes the process's warnings (Node's, such as `TimeoutNegativeWarning`, which Deno prints
 * raw on stderr) to the `imhookd.process` logger, once per thread: every line on stderr is
 * then a log line, JSON when the format is JSON.
 */
export function routeWarnings(): void {
  if (warningsRouted) return;
  warningsRouted = true;
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error) => {
    logger("process").warn("{name}: {message}", {
      name: warning.name,
      message: warning.message,
    });
  });
}

let warningsRouted = false;

/**
 * Logs an uncaught error or unhandled rejection as a fatal log line, instead of Deno's own
 * coloured dump, then exits 1 as Deno would. For the main thread (a worker's uncaught errors
 * go to the thread that started it).
 */
export function logUncaught(): void {
  const fatal = (kind: string, error: unknown): void => {
    logger("process").fatal("{kind}: {error}", {
      kind,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    Deno.exit(1);
  };
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    fatal("Uncaught error", event.error);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fatal("Unhandled rejection", event.reason);
  });
}

const SIGN = /([?&]Sign=)[^&\s"'\\]*/g;

/** `text` with the value of any `Sign=` query parameter it quotes replaced by `<redacted>`. */
export function scrubSecrets(text: string): string {
  return text.includes("Sign=") ? text.replace(SIGN, "$1<redacted>") : text;
}

/** One JSON object per line: time, level, logger, message, then the properties. */
export function jsonLine(record: LogRecord): string {
  const message = record.message
    .map((part, i) => (i % 2 === 0 || typeof part === "string" ? part : render(part)))
    .join("");
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    properties[key] = value instanceof Error ? render(value) : value;
  }
  return JSON.stringify({
    ...properties,
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: record.category.join("."),
    message,
  }) + "\n";
}

function render(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  return JSON.stringify(value) ?? String(value);
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  let bytes = encoder.encode(line);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
}
