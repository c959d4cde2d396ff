/**
 * Tencent's integers as they arrive: JSON numbers or digit strings. Shared by the schemas,
 * the quick check of messages and the natural keys; zod-free, so the keys stay light.
 *
 * @module
 */

const DIGITS = /^-?\d+$/;
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** An integer as a number, or a digit string such as `"1670574414123"`. */
export function isIntLike(v: unknown): boolean {
  return typeof v === "number" ? Number.isInteger(v) : typeof v === "string" && DIGITS.test(v);
}

/** A finite number, or a decimal string such as `"22.5"`. */
export function isNumberLike(v: unknown): boolean {
  return typeof v === "number" ? Number.isFinite(v) : typeof v === "string" && DECIMAL.test(v);
}

/** `123`, `"123"` and `"0123"` all give `"123"`; anything else gives undefined. */
export function canonicalInt(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? BigInt(v).toString() : undefined;
  if (typeof v === "string" && DIGITS.test(v)) return BigInt(v).toString();
  return undefined;
}
