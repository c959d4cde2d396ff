/**
 * Parsing of the duration and size strings used in the config and in plugin options.
 *
 * @module
 */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Parses a duration such as `500ms`, `10s`, `5m`, `2h` or `7d` into milliseconds.
 * A bare number is taken as milliseconds.
 */
export function parseDuration(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`Cannot parse duration "${value}": expected a non-negative number`);
    }
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) {
    throw new RangeError(
      `Cannot parse duration "${value}": expected a number with a unit such as 500ms, 10s, 5m, 2h or 7d`,
    );
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? "ms"]!);
}

/** Parses a size such as `1048576`, `512KiB` or `10MiB` into bytes. */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Cannot parse size "${value}": expected a non-negative integer`);
    }
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const factor = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new RangeError(
      `Cannot parse size "${value}": expected bytes or a number with a unit such as 512KiB or 10MiB`,
    );
  }
  return Math.round(Number(match[1]) * factor);
}
