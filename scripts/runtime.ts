/**
 * The runtime settings imhookd runs with, defined once: the Deno flags and permissions of
 * `main.ts`, and the environment of its process.
 *
 * The tests and the bench import them. The places that cannot import them are written from
 * them: `deno task runtime` rewrites the `start`, `cli` and `compile` tasks of deno.json, the
 * generated `Environment=` lines of deploy/imhookd.service, and those and the `deno run` flags
 * of deploy/imhookd-deno.service; `deno task runtime:check`
 * (and a test in scripts/runtime_test.ts) fails while they are out of date. To change a setting, edit
 * it here and run `deno task runtime`.
 *
 * @module
 */

/** Deno flags other than permissions, for `deno run` and `deno compile` alike. */
export const RUNTIME_FLAGS: readonly string[] = [
  // The systemd notify socket is a unix datagram socket (core/ops/notify.ts).
  "--unstable-net",
  // Each plugin's thread gets the Deno permissions its config entry grants
  // (core/delivery/plugin_handle.ts).
  "--unstable-worker-options",
  // A young generation of 1 MiB semi-spaces, and an old one grown by 30% over what a full
  // collection keeps: a smaller peak resident size under a flood, at little cost in
  // throughput. No copy of V8's builtins beside each thread's code (short builtin calls map
  // one, 2 MiB resident, per isolate: the main thread, the engine and each plugin's thread)
  // (docs/performance.md).
  "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=30,--no-short-builtin-calls",
];

/** The permissions `serve` (and every other command) needs; the tests prove they are enough. */
export const RUNTIME_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  // A plugin with `isolation: process` runs in a child process of the same program.
  "--allow-run",
];

/** {@linkcode RUNTIME_FLAGS} then {@linkcode RUNTIME_PERMISSIONS}: what follows `deno run`. */
export const RUNTIME_ARGS: readonly string[] = [...RUNTIME_FLAGS, ...RUNTIME_PERMISSIONS];

/**
 * The environment of the process. A compiled binary cannot carry it: the systemd unit sets it.
 * `MALLOC_ARENA_MAX=2`: at most two glibc malloc arenas instead of one per thread, a smaller
 * peak resident size (docs/performance.md).
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** The settings a generated file is written from (tests pass their own). */
export interface RuntimeSettings {
  args: readonly string[];
  env: Readonly<Record<string, string>>;
}

/** The deno.json tasks whose runtime part is generated. */
export const GENERATED_TASKS = ["start", "cli", "compile"] as const;

/** The comment line in the unit after which the generated `Environment=` lines stand. */
export const UNIT_MARKER =
  "# Runtime environment, written by `deno task runtime` from scripts/runtime.ts:";

const ROOT = new URL("../", import.meta.url).pathname;
const DEFAULTS: RuntimeSettings = { args: RUNTIME_ARGS, env: RUNTIME_ENV };

/** Whether `word` belongs to the generated head of a task (settings, `deno run|compile`). */
function isRuntimeWord(word: string): boolean {
  return /^[A-Z_][A-Z0-9_]*=/.test(word) || ["deno", "run", "compile"].includes(word) ||
    /^--(unstable-|v8-flags=|allow-|deny-)/.test(word);
}

/**
 * Task `task` with its head (environment, `deno run` or `deno compile`, runtime flags and
 * permissions) written from `settings`; what follows the head (`main.ts serve ...`,
 * `--include ...`) is kept as it is.
 */
export function renderTask(task: string, settings: RuntimeSettings = DEFAULTS): string {
  const words = task.trim().split(/\s+/);
  const subcommand = words.find((word) => word === "run" || word === "compile");
  if (subcommand === undefined || !words.includes("deno")) {
    throw new SyntaxError(`Cannot rewrite task "${task}": it runs neither deno run nor compile`);
  }
  let head = 0;
  while (head < words.length && isRuntimeWord(words[head]!)) head++;
  // A compiled binary cannot carry environment variables: the unit sets them.
  const env = subcommand === "run"
    ? Object.entries(settings.env).map(([key, value]) => `${key}=${value}`)
    : [];
  return [...env, "deno", subcommand, ...settings.args, ...words.slice(head)].join(" ");
}

/** deno.json's text with the runtime head of each of {@linkcode GENERATED_TASKS} rewritten. */
export function renderDenoJson(text: string, settings: RuntimeSettings = DEFAULTS): string {
  let out = text;
  for (const name of GENERATED_TASKS) {
    const pattern = new RegExp(`("${name}":\\s*)("(?:[^"\\\\]|\\\\.)*")`);
    const match = pattern.exec(out);
    if (match === null) throw new SyntaxError(`Cannot find task "${name}" in deno.json`);
    const task = renderTask(JSON.parse(match[2]!) as string, settings);
    out = out.replace(pattern, (_, key: string) => `${key}${JSON.stringify(task)}`);
  }
  return out;
}

/** The unit's text with the `Environment=` lines after {@linkcode UNIT_MARKER} rewritten. */
export function renderUnit(text: string, settings: RuntimeSettings = DEFAULTS): string {
  const lines = text.split("\n");
  const marker = lines.indexOf(UNIT_MARKER);
  if (marker < 0) {
    throw new SyntaxError(`Cannot find the line "${UNIT_MARKER}" in the systemd unit`);
  }
  let end = marker + 1;
  while (end < lines.length && lines[end]!.startsWith("Environment=")) end++;
  const env = Object.entries(settings.env).map(([key, value]) => `Environment=${key}=${value}`);
  lines.splice(marker + 1, end - marker - 1, ...env);
  return lines.join("\n");
}

/**
 * The `deno run` unit's text: its generated `Environment=` lines (as {@linkcode renderUnit}),
 * and in each `Exec*=` line that runs `deno run`, the runtime flags and permissions before the
 * program (its own flags, such as `--cached-only`, kept).
 */
export function renderDenoUnit(text: string, settings: RuntimeSettings = DEFAULTS): string {
  return renderUnit(text, settings).split("\n").map((line) => {
    const exec = /^(Exec\w+=)(.*)$/.exec(line);
    if (exec === null) return line;
    const words = exec[2]!.split(" ");
    const run = words.indexOf("run");
    const program = words.findIndex((word) => word.endsWith("/main.ts"));
    if (!/\/deno$/.test(words[0]!) || run < 0 || program < run) return line;
    const own = words.slice(run + 1, program).filter((word) => !isRuntimeWord(word));
    return exec[1] + [...words.slice(0, run + 1), ...own, ...settings.args, ...words.slice(program)]
      .join(" ");
  }).join("\n");
}

/** The files written from the settings, each with its generator. */
const GENERATED: readonly [string, (text: string) => string][] = [
  ["deno.json", (text) => renderDenoJson(text)],
  ["deploy/imhookd.service", (text) => renderUnit(text)],
  ["deploy/imhookd-deno.service", (text) => renderDenoUnit(text)],
];

/**
 * Rewrites the generated files (`check: false`), or lists those that differ from what would be
 * written (`check: true`). Returns the paths, relative to the project, that were (or would be)
 * changed.
 */
export async function syncRuntime(options: { check: boolean }): Promise<string[]> {
  const changed = [];
  for (const [path, render] of GENERATED) {
    const text = await Deno.readTextFile(`${ROOT}${path}`);
    const rendered = render(text);
    if (rendered === text) continue;
    changed.push(path);
    if (!options.check) await Deno.writeTextFile(`${ROOT}${path}`, rendered);
  }
  return changed;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const changed = await syncRuntime({ check });
  const out = (text: string) => Deno.stderr.writeSync(new TextEncoder().encode(`${text}\n`));
  if (check && changed.length > 0) {
    out(`Out of date with scripts/runtime.ts: ${changed.join(", ")}; run \`deno task runtime\``);
    Deno.exit(1);
  }
  out(changed.length > 0 ? `Rewrote ${changed.join(", ")}` : "Up to date with scripts/runtime.ts");
}
