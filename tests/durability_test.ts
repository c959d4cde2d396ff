/**
 * Syncs counted at the system-call level. `journal.durability`: `os` never fsyncs the journal
 * (the documented contract), neither its database nor its inbox; `fsync` fsyncs both. `builtin:sqlite_sync`
 * syncs its WAL ahead of SQLite's checkpoints. Runs `tests/fixtures/journal_writer.ts` and
 * `tests/fixtures/sqlite_sync_writer.ts` under strace.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

const FIXTURE = `${ROOT}tests/fixtures/journal_writer.ts`;
const SYNC_FIXTURE = `${ROOT}tests/fixtures/sqlite_sync_writer.ts`;

async function haveStrace(): Promise<boolean> {
  try {
    const probe = await new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" })
      .output();
    return probe.success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The fsync/fdatasync calls on the journal's files while the fixture writes `durability`. */
function journalSyncs(durability: string): Promise<string[]> {
  return syncsOf(FIXTURE, "journal.db", [durability]);
}

/**
 * Runs `fixture` under strace with the path of `file` in a temporary folder (and `args`); returns
 * the sync calls made on that file and the files beside it that start with its name.
 */
async function syncsOf(fixture: string, file: string, args: string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "imhookd-durability-" });
  try {
    const trace = `${dir}/strace.txt`;
    const run = await new Deno.Command("strace", {
      args: [
        "-f",
        "-y",
        "-e",
        "trace=fsync,fdatasync,sync_file_range,msync",
        "-o",
        trace,
        Deno.execPath(),
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        fixture,
        `${dir}/${file}`,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stderr));
    const lines = (await Deno.readTextFile(trace)).split("\n");
    return lines.filter((line) => line.includes(`${dir}/${file}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const strace = await haveStrace();
if (!strace) {
  // deno-lint-ignore no-console
  console.warn("durability_test: skipped, strace is not installed (apt-get install strace)");
}

Deno.test({
  name: "durability: `os` never fsyncs the journal, `fsync` does, its database and its inbox",
  ignore: !strace,
  fn: async () => {
    assert.deepEqual(await journalSyncs("os"), []);
    const synced = await journalSyncs("fsync");
    const syncs = (file: RegExp) =>
      synced.filter((line) => /^\d+ +f(data)?sync\(/.test(line) && file.test(line));
    assert.ok(
      syncs(/journal\.db(-wal)?>/).length > 0,
      `expected fsyncs of the database, saw:\n${synced.join("\n")}`,
    );
    // One per batch: 200 batches.
    assert.ok(
      syncs(/journal\.db-inbox>/).length >= 200,
      `expected an fdatasync per inbox batch, saw:\n${synced.join("\n")}`,
    );
  },
});

Deno.test({
  name: "durability: sqlite_sync fdatasyncs its WAL ahead of SQLite's checkpoints",
  ignore: !strace,
  fn: async () => {
    const synced = await syncsOf(SYNC_FIXTURE, "im.db", []);
    // SQLite itself calls fsync; the flusher, Deno's syncData, fdatasync.
    const ahead = synced.filter((line) => /^\d+ +fdatasync\(.*im\.db-wal>/.test(line));
    assert.ok(ahead.length >= 2, `expected fdatasyncs of the WAL, saw:\n${synced.join("\n")}`);
    // Never from the thread that runs SQLite's statements (the JavaScript thread): from
    // Deno's blocking pool, so the plugin's thread goes on meanwhile.
    const sqliteThread = synced.find((line) => /^\d+ +fsync\(/.test(line))?.split(" ")[0];
    if (sqliteThread !== undefined) {
      assert.ok(
        ahead.every((line) => line.split(" ")[0] !== sqliteThread),
        `expected the WAL synced from another thread, saw:\n${synced.join("\n")}`,
      );
    }
  },
});
