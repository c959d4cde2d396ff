/**
 * Helpers shared by the unit tests.
 *
 * @module
 */

/** A new temporary folder, removed with everything in it on dispose (`await using`). */
export async function tempDir(prefix: string): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}
