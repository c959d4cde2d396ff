/**
 * `journal.durability`, counted at the system-call level: `os` never fsyncs the journal (as
 * DESIGN says), neither its database nor its inbox; `fsync` fsyncs both. Runs
 * `tests/fixtures/journal_writer.ts` under strace.
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

const FIXTURE = `${ROOT}tests/fixtures/journal_writer.ts`;

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
async function journalSyncs(durability: string): Promise<string[]> {
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
        FIXTURE,
        `${dir}/journal.db`,
        durability,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(run.success, new TextDecoder().decode(run.stderr));
    const lines = (await Deno.readTextFile(trace)).split("\n");
    return lines.filter((line) => line.includes(`${dir}/journal.db`));
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
