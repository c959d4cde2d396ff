/**
 * The `on` patterns of a plugin: an exact CallbackCommand, `Prefix.*` or `*`. How they are
 * written (checked when the config is loaded) and what they match.
 *
 * @module
 */

/** Does a CallbackCommand match an `on` pattern (`*`, `Group.*` or an exact command)? */
export function matchesPattern(pattern: string, command: string): boolean {
  if (pattern === "*") return true;
  if (pattern.endsWith(".*")) {
    const prefix = pattern.slice(0, -1);
    return command.length > prefix.length && command.startsWith(prefix);
  }
  return pattern === command;
}

/** Checks a list of `on` patterns; throws TypeError/RangeError saying what is wrong. */
export function parsePatterns(value: unknown): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new TypeError("expected a list of strings");
  }
  if (value.length === 0) throw new RangeError("expected at least one pattern");
  for (const pattern of value as string[]) {
    if (!/^(?:\*|[^*\s]+\.\*|[^*\s]+)$/.test(pattern)) {
      throw new RangeError(
        `invalid pattern "${pattern}": expected an exact command, "Prefix.*" or "*"`,
      );
    }
  }
  return value as string[];
}
