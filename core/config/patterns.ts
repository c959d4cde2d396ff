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

/** A pattern of a plugin's `on` that no known command matches. */
export interface PatternWarning {
  /** Key path of the pattern: `["plugins", 1, "on", 0]`. */
  path: (string | number)[];
  message: string;
}

/**
 * The `on` patterns (other than `*`) that match no command of `known`, each with the closest
 * known one when there is one: a typo (`Grup.*`, `Group.CallbackAfterSendMessage`) makes a
 * plugin that never fires. Warnings, not errors: Tencent adds commands, and an unknown one is
 * still routed to the patterns naming it.
 */
export function patternWarnings(
  plugins: readonly { index: number; on: readonly string[] }[],
  known: readonly string[],
): PatternWarning[] {
  const prefixes = [...new Set(known.map((command) => `${command.split(".")[0]}.*`))];
  const warnings: PatternWarning[] = [];
  for (const plugin of plugins) {
    plugin.on.forEach((pattern, i) => {
      if (pattern === "*" || known.some((command) => matchesPattern(pattern, command))) return;
      const guess = closest(pattern, pattern.endsWith(".*") ? prefixes : known);
      warnings.push({
        path: ["plugins", plugin.index, "on", i],
        message: `"${pattern}" matches no known command${
          guess === undefined ? "" : ` (did you mean "${guess}"?)`
        }: the plugin gets ${
          pattern.endsWith(".*")
            ? "only unknown commands it matches"
            : "only a command of that name"
        }`,
      });
    });
  }
  return warnings;
}

/** The candidate nearest to `text` (case-insensitive edit distance), if near enough. */
function closest(text: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(text.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(text.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions to turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
