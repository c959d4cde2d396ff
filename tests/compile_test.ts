/**
 * The single binary: builds it with the flags of `deno task compile` and runs `version`,
 * `check` and a `serve` + `send` round trip with a built-in and a user `.ts` plugin.
 *
 * `deno compile` downloads the `denort` runtime unless `DENORT_BIN` names one. Where neither
 * works, the test is ignored and says why on stderr; any other build failure fails it.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { APP, eventually, recorded, ROOT, serveCommand, TOKEN, workspace } from "./_helpers.ts";

const OUT_DIR = await Deno.makeTempDir({ prefix: "imhookd-compile-" });
const BINARY = `${OUT_DIR}/imhookd`;

/** The `compile` task's arguments, writing to `BINARY` instead of dist/. */
function compileArgs(): string[] {
  const words = denoJson.tasks.compile.split(/\s+/);
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"]);
  const args = words.slice(1);
  const output = args.indexOf("--output");
  assert.ok(output > 0, "the compile task names its --output");
  args.splice(output, 2, "--output", BINARY);
  return args;
}

async function build(): Promise<{ ok: true } | { ok: false; skip?: string; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(),
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(180_000),
  }).output();
  const output = new TextDecoder().decode(result.stderr) + new TextDecoder().decode(result.stdout);
  if (result.code === 0) return { ok: true };
  const download = /denort|dl\.deno\.land/.test(output) &&
    /dns error|error sending request|Connect|timed out|Not Found|404/i.test(output);
  if (download && Deno.env.get("DENORT_BIN") === undefined) {
    return {
      ok: false,
      skip: "deno compile cannot download the denort runtime here and DENORT_BIN is not set",
      output,
    };
  }
  return { ok: false, output };
}

const built = await build();
if (!built.ok && built.skip) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `compile_test: SKIPPED, not passed: ${built.skip}.\n` +
        `  Set DENORT_BIN to a denort ${Deno.version.deno} binary to run it.\n` +
        `  ${built.output.split("\n").find((line) => /error sending|dns/.test(line))?.trim()}\n`,
    ),
  );
  await Deno.remove(OUT_DIR, { recursive: true });
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(BINARY, { args, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test({
  name: "compile: the single binary runs version, check, and serves a send round trip",
  ignore: !built.ok && built.skip !== undefined,
  fn: async () => {
    try {
      assert.ok(built.ok, `deno compile failed:\n${built.ok ? "" : built.output}`);
      const version = await run(["version"]);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, new RegExp(`^imhookd ${denoJson.version}\\ndeno `));

      // A copy of the test plugin outside the source tree: loaded from disk at run time.
      await using ws = await workspace(`
server:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: ${APP}
    token: ${TOKEN}
journal:
  path: ./journal.db
log:
  format: json
plugins:
  - name: audit
    use: builtin:file_logger
    options: { path: ./audit.jsonl }
  - name: mine
    use: ./plugins/lifecycle.ts
    permissions: { read: [.], write: [.] }
    options: { path: ./mine.jsonl }
`);
      await Deno.mkdir(`${ws.dir}/plugins`);
      await Deno.copyFile(
        `${ROOT}tests/fixtures/lifecycle.ts`,
        `${ws.dir}/plugins/lifecycle.ts`,
      );

      const check = await run(["check", "--config", ws.config]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /^ {2}\* +-> audit, mine$/m);

      await using served = await serveCommand(BINARY, ["serve", "--config", ws.config]);
      const sent = await run([
        "send",
        "--config",
        ws.config,
        "--command",
        "Group.CallbackAfterSendMsg",
        "--url",
        served.url,
      ]);
      assert.equal(sent.code, 0, sent.stdout + sent.stderr);
      assert.equal(sent.stdout.trim(), '200 {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}');
      await eventually(
        async () =>
          (await recorded(`${ws.dir}/audit.jsonl`)).length === 1 &&
          (await recorded(`${ws.dir}/mine.jsonl`)).some((line) => line.event === "done"),
        "both plugins got the callback",
      );
      assert.equal(await served.stop(), 0);
    } finally {
      await Deno.remove(OUT_DIR, { recursive: true });
    }
  },
});
