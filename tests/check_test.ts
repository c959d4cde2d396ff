/**
 * `check` (and `serve`) strictness, end to end: every error in one run (the config's, every
 * plugin's, every bad option of a built-in), durations without a unit refused, and `on`
 * patterns that match no known command warned about with the nearest one.
 */
import assert from "node:assert/strict";
import { BUILTIN_PLUGINS } from "../core/config/config.ts";
import { cli, eventually, serve, workspace } from "./_helpers.ts";

const BROKEN = `server:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: 1400000000
    max_skew: 60
plugins:
  - name: typo
    use: builtin:file_loger
  - name: missing
    use: ./not_there.ts
  - name: forward
    use: builtin:webhook_forwarder
    options:
      url: ftp://x
      timeout: 60
  - name: groups
    use: builtin:file_logger
    on: ["Grup.*", "Group.CallbackAfterSendMessage"]
    options: { path: ./groups.jsonl }
`;

const FIXED = BROKEN
  .replace("max_skew: 60", "max_skew: 60s")
  .replace("builtin:file_loger", "builtin:file_logger\n    options: { path: ./typo.jsonl }")
  .replace("./not_there.ts", "builtin:file_logger\n    options: { path: ./m.jsonl }")
  .replace("url: ftp://x", "url: http://127.0.0.1:9/hook")
  .replace("timeout: 60", "timeout: 60s");

Deno.test("check: every error in one run, the config's and each plugin's with each bad option", async () => {
  await using ws = await workspace(BROKEN);
  for (const command of ["check", "serve"]) {
    const result = await cli([command, "--config", ws.config]);
    assert.equal(result.code, 78, result.stderr);
    const lines = result.stderr.trim().split("\n").map((line) => line.replace(ws.config, "FILE"));
    assert.deepEqual(lines.map((line) => line.replace(/(failed to load: ).*/, "$1...")), [
      'FILE:5:5 apps[0].max_skew: Cannot parse duration "60": a duration needs a unit (ms, s, m, h or d), e.g. 60s or 60ms',
      `FILE:8:5 plugins[0].use: unknown built-in plugin "file_loger": expected one of ${
        BUILTIN_PLUGINS.join(", ")
      }`,
      'FILE:10:5 plugins[1].use: Cannot load plugin "missing": module "./not_there.ts" failed to load: ...',
      'FILE:14:7 plugins[2].options.url: Cannot load plugin "forward" (builtin:webhook_forwarder): options.url: expected an http or https URL, got "ftp://x"',
      'FILE:15:7 plugins[2].options.timeout: Cannot load plugin "forward" (builtin:webhook_forwarder): options.timeout: expected a duration such as 500ms, 10s or 2m, got 60',
    ], command);
  }
});

Deno.test("check: an on pattern that matches no known command is a warning with the nearest one", async () => {
  await using ws = await workspace(FIXED);
  const result = await cli(["check", "--config", ws.config]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stderr.trim().split("\n").map((l) => l.replace(ws.config, "FILE")), [
    'Warning: FILE:20:10 plugins[3].on[0]: "Grup.*" matches no known command (did you mean "Group.*"?): the plugin gets only unknown commands it matches',
    'Warning: FILE:20:20 plugins[3].on[1]: "Group.CallbackAfterSendMessage" matches no known command (did you mean "Group.CallbackAfterSendMsg"?): the plugin gets only a command of that name',
  ]);
  assert.match(result.stdout, /Grup\.\* +-> groups/);

  // serve logs the same warnings and runs.
  await using served = await serve(ws.config);
  await eventually(
    () => served.logs.some((line) => line.includes('\\"Grup.*\\" matches no known command')),
    "serve warns",
  );
  assert.equal(await served.stop(), 0);
});
