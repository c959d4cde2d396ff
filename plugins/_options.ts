/**
 * Checks shared by the built-in plugins' `parseOptions`, and the collector that has them report
 * every bad option at once.
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

/**
 * The problems of one plugin's options, collected so that `check` lists all of them in one
 * run: run each option's parsing through {@linkcode check}, then {@linkcode throwIfAny}.
 */
export class OptionErrors {
  #errors: Error[] = [];

  /** Runs `parse` and returns its value; a TypeError or RangeError it throws is kept instead. */
  check<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
      this.#errors.push(error);
      return undefined;
    }
  }

  /** Keeps a TypeError for each key of `raw` that is not in `known`. */
  unknownKeys(raw: Record<string, unknown>, known: readonly string[], at: string): void {
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) {
        this.#errors.push(
          new TypeError(`${at}.${key}: unknown option; expected one of ${known.join(", ")}`),
        );
      }
    }
  }

  /**
   * Throws what was kept: the error itself when there is one, an AggregateError of them when
   * there are several (the loader reports each with its own key path).
   */
  throwIfAny(): void {
    if (this.#errors.length === 1) throw this.#errors[0];
    if (this.#errors.length > 1) {
      throw new AggregateError(this.#errors, this.#errors.map((e) => e.message).join("; "));
    }
  }
}
