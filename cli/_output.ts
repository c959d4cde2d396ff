// deno-lint-ignore-file no-console -- the CLI is the one place that prints.
/**
 * How the CLI prints: its two streams and the formats of sizes and ages.
 *
 * @module
 */

/** Prints a line (or lines) to stdout. */
export function print(text: string): void {
  console.log(text);
}

/** Prints a line (or lines) to stderr. */
export function printError(text: string): void {
  console.error(text);
}

/** `512.0 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 2
    ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** `42s`, `17m`, `5.3h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}
