/**
 * `deno task bench`: runs every `bench/*_bench.ts` module's `run()` in turn (the load
 * benchmark last, so the others do not share the machine with it), prints one table and
 * writes `bench/results/latest.json`.
 *
 * `deno task bench [NAME...]` runs only the modules whose file name contains a NAME, e.g.
 * `deno task bench load`. `BENCH_QUICK=1` shortens the load benchmark for a smoke run.
 *
 * @module
 */

/** One measured figure, as every bench module returns them. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: string;
}

/** A figure with the module that measured it and whether it meets its target. */
export interface BenchRow extends BenchResult {
  module: string;
  /** Undefined when there is no target. */
  met?: boolean;
}

const DIR = new URL("./", import.meta.url);
/** Expected even when absent from this checkout: skipped with a note, not an error. */
const EXPECTED = [
  "decisions_bench.ts",
  "delivery_bench.ts",
  "file_logger_bench.ts",
  "handler_bench.ts",
  "journal_bench.ts",
  "load_bench.ts",
  "moderation_bench.ts",
  "sqlite_sync_bench.ts",
  "postgres_sync_bench.ts",
  "nats_forwarder_bench.ts",
];

/** Whether `value` meets a target written as `>= N ...` or `<= N ...`; undefined otherwise. */
export function meets(value: number, target: string | undefined): boolean | undefined {
  const match = /^\s*(>=|<=)\s*(-?[\d.]+)/.exec(target ?? "");
  if (match === null) return undefined;
  const limit = Number(match[2]);
  return match[1] === ">=" ? value >= limit : value <= limit;
}

async function modules(filter: string[]): Promise<string[]> {
  const found = new Set(EXPECTED);
  for await (const entry of Deno.readDir(DIR)) {
    if (entry.isFile && entry.name.endsWith("_bench.ts")) found.add(entry.name);
  }
  return [...found]
    .filter((name) => filter.length === 0 || filter.some((f) => name.includes(f)))
    // The load benchmark spawns processes and saturates both cores: run it alone, last.
    .sort((a, b) =>
      Number(a === "load_bench.ts") - Number(b === "load_bench.ts") || a.localeCompare(b)
    );
}

function format(rows: BenchRow[], notes: string[]): string {
  const cells = rows.map((row) => [
    row.module,
    row.name,
    Number.isInteger(row.value) ? row.value.toLocaleString("en-US") : String(row.value),
    row.unit,
    row.target ?? "",
    row.met === undefined ? "" : row.met ? "yes" : "NO",
  ]);
  const header = ["module", "figure", "value", "unit", "target", "met"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string =>
    c.map((cell, i) => (i === 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(" | ");
  return [
    line(header),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...cells.map(line),
    ...notes.map((note) => `note: ${note}`),
  ].join("\n");
}

/** Runs the selected bench modules; returns their rows and notes about skipped ones. */
export async function runAll(
  filter: string[] = [],
): Promise<{ rows: BenchRow[]; notes: string[] }> {
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const name of await modules(filter)) {
    let module: { run?: () => Promise<BenchResult[]> };
    try {
      module = await import(new URL(name, DIR).href);
    } catch (error) {
      if (!(error instanceof TypeError) || !/Module not found/.test(error.message)) throw error;
      notes.push(`bench/${name} is missing: skipped`);
      continue;
    }
    if (typeof module.run !== "function") {
      notes.push(`bench/${name} exports no run(): skipped`);
      continue;
    }
    const started = performance.now();
    for (const result of await module.run()) {
      const met = meets(result.value, result.target);
      rows.push({
        module: name.replace(/_bench\.ts$/, ""),
        ...result,
        ...(met === undefined ? {} : { met }),
      });
    }
    notes.push(`bench/${name} took ${Math.round((performance.now() - started) / 1000)} s`);
  }
  return { rows, notes };
}

if (import.meta.main) {
  const started = new Date();
  const { rows, notes } = await runAll(Deno.args);
  // deno-lint-ignore no-console
  console.log(format(rows, notes));
  const results = new URL("./results/", DIR);
  await Deno.mkdir(results, { recursive: true });
  await Deno.writeTextFile(
    new URL("latest.json", results),
    JSON.stringify(
      {
        started: started.toISOString(),
        seconds: Math.round((Date.now() - started.getTime()) / 1000),
        deno: Deno.version.deno,
        cpus: navigator.hardwareConcurrency,
        command: `deno task bench${Deno.args.length ? ` ${Deno.args.join(" ")}` : ""}`,
        rows,
        notes,
      },
      null,
      2,
    ) + "\n",
  );
}
