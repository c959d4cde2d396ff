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

/** Options of {@linkcode runtimeModules}. */
export interface RuntimeModulesOptions {
  /** Follow `import()`s too. Default true. */
  dynamic?: boolean;
}

/**
 * The modules that `module` (a file URL) loads when it runs: its import graph by `deno info`
 * without `import type` edges (erased at run time). npm packages appear as
 * `npm:/name@version`.
 */
export async function runtimeModules(
  module: URL,
  options: RuntimeModulesOptions = {},
): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", module.href],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new TypeError(
      `Cannot read the module graph of "${module.href}": ${
        new TextDecoder().decode(output.stderr)
      }`,
    );
  }
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    redirects: Record<string, string>;
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const queue = [...graph.roots];
  while (queue.length > 0) {
    const next = queue.pop()!;
    const specifier = graph.redirects[next] ?? next;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dependency.code === undefined) continue;
      if (dependency.isDynamic && options.dynamic === false) continue;
      queue.push(dependency.code.specifier);
    }
  }
  return seen;
}
