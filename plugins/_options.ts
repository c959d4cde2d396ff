/**
 * Checks shared by the built-in plugins' `parseOptions`.
 *
 * @module
 */

/** True for a plain mapping (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value as it appears in an error message. */
export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** Throws a `TypeError` naming the first key of `raw` that is not in `known`. */
export function rejectUnknownKeys(
  raw: Record<string, unknown>,
  known: readonly string[],
  at: string,
): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new TypeError(`${at}.${key}: unknown option; expected one of ${known.join(", ")}`);
    }
  }
}
