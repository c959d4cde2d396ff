/**
 * The delivery worker's module graph, as `deno info --json` gives it: what the worker thread
 * loads must not include zod or yaml (the config's parsers), which would cost its heap for
 * nothing. Type-only imports are erased at run time: only code dependencies are followed,
 * dynamic ones (the built-in plugins) included.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

/** Every module the code dependencies of `entry` reach, by specifier (after redirects). */
async function runtimeGraph(entry: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
  const modules = new Map(info.modules.map((module) => [module.specifier, module]));
  const resolve = (specifier: string): string => info.redirects[specifier] ?? specifier;
  const reached = new Set<string>();
  const queue = info.roots.map(resolve);
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code !== undefined) queue.push(resolve(dependency.code.specifier));
    }
  }
  return reached;
}

/** The zod and yaml modules among `graph`. */
function parsers(graph: Set<string>): string[] {
  return [...graph].filter((specifier) => /^npm:\/?(zod|yaml)@/.test(specifier)).sort();
}

Deno.test("worker_graph: the delivery worker's module graph reaches neither npm:zod nor npm:yaml", async () => {
  const graph = await runtimeGraph("core/delivery/worker.ts");
  // The walk reaches the engine and the built-in plugins the worker imports dynamically.
  for (const module of ["core/delivery/engine.ts", "plugins/sqlite_sync.ts"]) {
    assert.ok(graph.has(new URL(module, `file://${ROOT}`).href), `the graph holds ${module}`);
  }
  assert.deepEqual(parsers(graph), []);
});

Deno.test("worker_graph: the config loader's graph does reach them (the check can fail)", async () => {
  const graph = await runtimeGraph("core/config/config.ts");
  assert.deepEqual(parsers(graph).map((s) => s.replace(/^npm:\/?|@.*$/g, "")), ["yaml", "zod"]);
});
