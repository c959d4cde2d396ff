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
  b: 1,
  kb: 1_000,
  mb: 1_000_000,
  gb: 1_000_000_000,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Parses a duration such as `500ms`, `10s`, `5m`, `2h` or `7d` into milliseconds. The unit is
 * required: a bare number (`60`, or `"60"`) is a RangeError, since reading it as milliseconds
 * turns a meant `60s` into 60 ms.
 */
export function parseDuration(value: string | number): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(value));
  if (!match) {
    throw new RangeError(
      `Cannot parse duration "${value}": expected a number with a unit such as 500ms, 10s, 5m, 2h or 7d`,
    );
  }
  if (match[2] === undefined) {
    throw new RangeError(
      `Cannot parse duration "${value}": a duration needs a unit (ms, s, m, h or d), e.g. ${
        match[1]
      }s or ${match[1]}ms`,
    );
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]]!);
}

/** Options of {@linkcode parseSize}. */
export interface SizeOptions {
  /**
   * Whether a bare number is taken as bytes: only where the key names the unit
   * (`max_body_bytes`, `max_bytes`). Default false: a size needs a unit.
   */
  bareBytes?: boolean;
}

/** Parses a size such as `512KiB`, `10MiB` or `100b` (or `1048576` with `bareBytes`) into bytes. */
export function parseSize(value: string | number, options: SizeOptions = {}): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(value));
  const unit = match?.[2]?.toLowerCase();
  const factor = unit === undefined || unit === "" ? undefined : SIZE_UNITS[unit];
  if (match && unit === "" && options.bareBytes) {
    const bytes = Number(match[1]);
    if (!Number.isSafeInteger(bytes)) {
      throw new RangeError(`Cannot parse size "${value}": expected a whole number of bytes`);
    }
    return bytes;
  }
  if (match && unit === "") {
    throw new RangeError(
      `Cannot parse size "${value}": a size needs a unit (b, KiB, MiB, GiB, kB, MB, GB), e.g. ${
        match[1]
      }MiB`,
    );
  }
  if (!match || factor === undefined) {
    throw new RangeError(
      `Cannot parse size "${value}": expected ${
        options.bareBytes ? "bytes or " : ""
      }a number with a unit such as 512KiB or 10MiB`,
    );
  }
  return Math.round(Number(match[1]) * factor);
}
