// deno-lint-ignore-file no-console -- a command-line check: printing is its report.
/**
 * Fails when the repo's own modules import each other in a cycle (type-only imports count:
 * a cycle makes the code harder to walk whatever the runtime does with it).
 *
 *     deno run --allow-read --allow-write --allow-run scripts/check_circular.ts [PATH...]
 *
 * PATHs are files or folders (every `.ts`/`.tsx` file below, tests included); default: the
 * whole repo's code ({@linkcode DEFAULT_ROOTS}) but the fixture that has a cycle on purpose. The module graph is Deno's own (`deno info --json`, with this
 * repo's `deno.json`), so it resolves imports exactly as `deno run` does; only local files
 * count. Prints each cycle found, one per strongly connected group of modules, and exits 1
 * if there is one.
 *
 * @module
 */
import { relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The roots checked when none is given (relative to the repo). */
export const DEFAULT_ROOTS: readonly string[] = [
  "main.ts",
  "plugin.ts",
  "cli",
  "core",
  "plugins",
  "bench",
  "scripts",
  "tests",
];

/** Left out of the default roots: the cycle `scripts/check_circular_test.ts` checks for. */
const DEFAULT_EXCLUDED: readonly string[] = ["tests/fixtures/import_cycle"];

/** One module of `deno info --json`, the parts read here. */
interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/**
 * The `.ts`/`.tsx` files of `paths` (files, or folders walked recursively), as file URLs,
 * but those in `excluded` (paths too).
 */
export function sourceFiles(paths: readonly string[], excluded: readonly string[] = []): string[] {
  const files: string[] = [];
  const skip = new Set(excluded.map((path) => resolve(path)));
  const visit = (path: string): void => {
    if (skip.has(resolve(path))) return;
    const info = Deno.statSync(path);
    if (info.isFile) {
      if (/\.tsx?$/.test(path)) files.push(pathToFileURL(resolve(path)).href);
      return;
    }
    const entries = [...Deno.readDirSync(path)].map((entry) => entry.name).sort();
    for (const name of entries) visit(`${path}/${name}`);
  };
  for (const path of paths) visit(path);
  return files;
}

/**
 * The import graph of `files` and everything local they import: module URL to the local
 * module URLs it imports (code or type). Runs `deno info --json` once, on a generated module
 * importing them all.
 */
export async function importGraph(
  files: readonly string[],
  config: string,
): Promise<Map<string, Set<string>>> {
  const dir = await Deno.makeTempDir({ prefix: "check_circular_" });
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      files.map((file) => `import ${JSON.stringify(file)};\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", config, entry],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new TypeError(
        `deno info failed for "${entry}": ${new TextDecoder().decode(output.stderr).trim()}`,
      );
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    const entryUrl = pathToFileURL(entry).href;
    const graph = new Map<string, Set<string>>();
    for (const module of info.modules) {
      if (!module.specifier.startsWith("file:") || module.specifier === entryUrl) continue;
      const targets = new Set<string>();
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
          if (target?.startsWith("file:")) targets.add(target);
        }
      }
      graph.set(module.specifier, targets);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The import cycles of `graph`: for each strongly connected group of more than one module
 * (or a module importing itself), one cycle through it, as the list of its modules with the
 * first repeated at the end. Sorted, so the output is stable.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  // Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  for (const root of [...graph.keys()].sort()) {
    if (index.has(root)) continue;
    const work: { node: string; edges: string[]; at: number }[] = [];
    const enter = (node: string): void => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, edges: [...(graph.get(node) ?? [])].sort(), at: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      if (frame.at < frame.edges.length) {
        const target = frame.edges[frame.at++]!;
        if (!index.has(target)) enter(target);
        else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent !== undefined) {
        low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      }
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== frame.node);
      if (group.length > 1 || graph.get(frame.node)?.has(frame.node)) groups.push(group.sort());
    }
  }
  return groups.map((group) => cycleIn(graph, new Set(group))).sort((a, b) =>
    a[0]!.localeCompare(b[0]!)
  );
}

/** A shortest cycle from the first module of `group` back to it, within the group. */
function cycleIn(graph: ReadonlyMap<string, ReadonlySet<string>>, group: Set<string>): string[] {
  const start = [...group].sort()[0]!;
  // Breadth first from start's imports, so the cycle printed is as short as possible.
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of [...(graph.get(node) ?? [])].sort()) {
      if (!group.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = cameFrom.get(at)!) path.push(at);
        path.push(start);
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (cameFrom.has(target)) continue;
      cameFrom.set(target, node);
      queue.push(target);
    }
  }
  return [start, start];
}

/**
 * Runs the check on `roots` (without `excluded`); prints the cycles and returns the exit code
 * (1 if any).
 */
export async function checkCircular(
  roots: readonly string[],
  excluded: readonly string[] = [],
): Promise<number> {
  const config = fileURLToPath(new URL("../deno.json", import.meta.url));
  const graph = await importGraph(sourceFiles(roots, excluded), config);
  const cycles = findCycles(graph);
  const name = (url: string): string => relative(Deno.cwd(), fileURLToPath(url));
  for (const cycle of cycles) {
    console.error(`Import cycle: ${cycle.map(name).join(" -> ")}`);
  }
  if (cycles.length > 0) return 1;
  console.log(`No import cycles among ${graph.size} modules`);
  return 0;
}

if (import.meta.main) {
  if (Deno.args.length > 0) Deno.exit(await checkCircular(Deno.args));
  const repo = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));
  Deno.exit(await checkCircular(DEFAULT_ROOTS.map(repo), DEFAULT_EXCLUDED.map(repo)));
}
