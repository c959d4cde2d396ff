import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { findCycles } from "./check_circular.ts";

const SCRIPT = fileURLToPath(new URL("./check_circular.ts", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));

/** Runs the script in the repo's folder, as `deno task lint:circular` does. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-run", SCRIPT, ...args],
    cwd: REPO,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

function graph(edges: Record<string, string[]>): Map<string, Set<string>> {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

Deno.test("check_circular: two fixture modules importing each other fail the check, the cycle printed", async () => {
  const result = await run("tests/fixtures/import_cycle");
  assert.equal(result.code, 1, result.stderr);
  assert.equal(
    result.stderr.trim(),
    "Import cycle: tests/fixtures/import_cycle/a.ts -> tests/fixtures/import_cycle/b.ts" +
      " -> tests/fixtures/import_cycle/a.ts",
  );
});

Deno.test("check_circular: a module that imports into the cycle fails too; one without passes", async () => {
  // core/journal/mod.ts imports nothing that imports it back.
  const clean = await run("core/journal/mod.ts");
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout, /^No import cycles among \d+ modules\n$/);
  const both = await run("core/journal/mod.ts", "tests/fixtures/import_cycle/b.ts");
  assert.equal(both.code, 1);
  assert.match(both.stderr, /^Import cycle: tests\/fixtures\/import_cycle\/a\.ts -> /);
});

Deno.test("check_circular: the repo's own code has no import cycle", async () => {
  const result = await run();
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("check_circular: findCycles finds each cycle once, the shortest way round, and no other", () => {
  assert.deepEqual(
    findCycles(graph({
      a: ["b"],
      b: ["c", "d"],
      c: ["a"],
      d: ["b"],
      e: ["e"],
      f: ["g", "h"],
      g: ["h"],
      h: [],
    })),
    [["a", "b", "c", "a"], ["e", "e"]],
  );
  assert.deepEqual(findCycles(graph({ a: ["b", "c"], b: ["c"], c: [] })), []);
});
