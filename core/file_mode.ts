/**
 * The mode of the files imhookd creates (journal, inbox, sync databases, logs): read-write
 * for its user, readable by its group, nothing for others, whatever the umask (a umask can
 * only take bits away). SQLite would create its databases 0644 under the usual umask 022;
 * its `-wal` and `-shm` files take the mode of their database.
 *
 * @module
 */

/** `rw-r-----`. */
export const FILE_MODE = 0o640;

/**
 * Creates `path` empty with {@linkcode FILE_MODE} unless it exists, so that SQLite, which
 * opens an existing file as it is, keeps that mode (an empty file is an empty database).
 */
export function createPrivately(path: string): void {
  try {
    Deno.openSync(path, { createNew: true, write: true, mode: FILE_MODE }).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}
