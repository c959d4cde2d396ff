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

/** `2026-05-06 07:08:09Z (5m ago)`: a time in UTC to the second, and how long ago. */
export function formatTime(ms: number, now = Date.now()): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z (${formatAge(now - ms)} ago)`;
}

/** An ordering group as people name it: the GroupId, or the two accounts of a C2C pair. */
export function formatGroup(groupKey: string | null): string {
  if (groupKey === null) return "-";
  if (groupKey.startsWith("g:")) return groupKey.slice(2);
  if (groupKey.startsWith("c2c:")) {
    try {
      return (JSON.parse(groupKey.slice(4)) as string[]).join(" <> ");
    } catch {
      return groupKey;
    }
  }
  return groupKey;
}

/**
 * Rows under a header, each column as wide as its widest cell (the last one left as it is,
 * so that long errors wrap instead of being cut).
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length))
  );
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** Whether to print JSON: asked for with `--json`, or stdout is not a terminal. */
export function wantsJson(json: boolean | undefined): boolean {
  return json === true || !Deno.stdout.isTerminal();
}

/** Prints `value` as indented JSON. */
export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}
