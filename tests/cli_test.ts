import assert from "node:assert/strict";
import { cli, recorderConfig, ROOT, serve, workspace } from "./_helpers.ts";

Deno.test("cli: check prints the routing table and exits 0", async () => {
  await using ws = await workspace(recorderConfig(`
  - name: groups_only
    use: ${ROOT}tests/fixtures/recorder.ts
    permissions: { read: [.], write: [.] }
    on: ["Group.*", "C2C.CallbackAfterSendMsg"]
    options:
      path: ./groups.jsonl
`));
  const result = await cli(["check", "--config", ws.config]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Config .*config\.yaml is valid\.$/m);
  assert.match(result.stdout, /^Apps: 1400000000 \(Sign checked\)$/m);
  assert.match(
    result.stdout,
    /Routing table \(command pattern -> plugins\):\n {2}\* +-> recorder\n {2}Group\.\* +-> groups_only\n {2}C2C\.CallbackAfterSendMsg +-> groups_only\n/,
  );
  assert.doesNotMatch(result.stdout + result.stderr, /e2e-secret-token/);
});

Deno.test("cli: check exits 78 listing every config error with file, line, column and key", async () => {
  await using ws = await workspace(`server:
  listen: 127.0.0.1:0
  colour: blue
apps:
  - sdk_app_id: 1400000000
    max_skew: soon
plugins:
  - name: a
    use: builtin:file_logger
    on: "Group.*"
`);
  const result = await cli(["check", "--config", ws.config]);
  assert.equal(result.code, 78);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 3, result.stderr);
  assert.match(lines[0]!, /config\.yaml:3:3 server\.colour: unknown key$/);
  assert.match(lines[1]!, /config\.yaml:6:5 apps\[0\]\.max_skew: Cannot parse duration "soon"/);
  assert.match(lines[2]!, /config\.yaml:10:5 plugins\[0\]\.on: /);
});

const UNLOADABLE_PLUGINS = `server:
  listen: 127.0.0.1:0
apps:
  - sdk_app_id: 1400000000
plugins:
  - name: crm
    use: ${ROOT}tests/fixtures/no_create.ts
  - name: explodes
    use: ${ROOT}tests/fixtures/throws_on_import.ts
  - name: missing
    use: ./not_there.ts
  - name: audit
    use: builtin:file_logger
    options:
      path: 5
`;

Deno.test("cli: check exits 78 naming each plugin that cannot load, its path and why", async () => {
  await using ws = await workspace(UNLOADABLE_PLUGINS);
  const result = await cli(["check", "--config", ws.config]);
  assert.equal(result.code, 78);
  const lines = result.stderr.trim().split("\n");
  assert.equal(lines.length, 4, result.stderr);
  assert.match(
    lines[0]!,
    /config\.yaml:7:5 plugins\[0\]\.use: Cannot load plugin "crm": module ".*no_create\.ts" has no create\(\)$/,
  );
  assert.match(
    lines[1]!,
    /plugins\[1\]\.use: Cannot load plugin "explodes": .* failed to load: this module refuses to load/,
  );
  assert.match(
    lines[2]!,
    /plugins\[2\]\.use: Cannot load plugin "missing": module "\.\/not_there\.ts" failed to load: /,
  );
  assert.match(
    lines[3]!,
    /config\.yaml:15:7 plugins\[3\]\.options\.path: Cannot load plugin "audit" \(builtin:file_logger\): options\.path: /,
  );
});

Deno.test("cli: serve, whose plugins load on the delivery worker, names them the same way", async () => {
  await using ws = await workspace(UNLOADABLE_PLUGINS);
  const result = await cli(["serve", "--config", ws.config]);
  assert.equal(result.code, 78);
  assert.match(
    result.stderr,
    /config\.yaml:7:5 plugins\[0\]\.use: Cannot load plugin "crm": module ".*no_create\.ts" has no create\(\)$/m,
  );
  assert.match(
    result.stderr,
    /config\.yaml:15:7 plugins\[3\]\.options\.path: Cannot load plugin "audit" \(builtin:file_logger\): options\.path: /,
  );
  assert.doesNotMatch(result.stderr, /\uE000/, "no location marker is left unresolved");
});

Deno.test("cli: serve refuses to start on a bad config with exit 78", async () => {
  await using ws = await workspace("apps: []\n");
  const result = await cli(["serve", "--config", ws.config]);
  assert.equal(result.code, 78);
  assert.match(result.stderr, /config\.yaml:1:1 apps: expected at least one app/);
});

Deno.test("cli: version, help and usage errors", async () => {
  const version = await cli(["version"]);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^imhookd \d+\.\d+\.\d+\ndeno 2\./);
  for (const command of ["serve", "check", "send", "status", "replay", "version"]) {
    const help = await cli([command, "--help"]);
    assert.equal(help.code, 0, command);
    assert.match(help.stdout, new RegExp(`^Usage: imhookd ${command}`), command);
  }
  const top = await cli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(
    top.stdout,
    /Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error/,
  );
  const unknown = await cli(["frobnicate"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^Unknown command "frobnicate"/);
  const noConfig = await cli(["check"]);
  assert.equal(noConfig.code, 2);
  assert.match(noConfig.stderr, /^"check" needs --config FILE/);
  const badOption = await cli(["status", "--config", "x.yaml", "--dead"]);
  assert.equal(badOption.code, 2);
  assert.match(badOption.stderr, /^Option --dead is not an option of "status"/);
  const unknownOption = await cli(["check", "--config", "x.yaml", "--verbose"]);
  assert.equal(unknownOption.code, 2);
});

Deno.test("cli: send needs --url when the config listens on port 0, and exits 1 on FAIL", async () => {
  await using ws = await workspace(recorderConfig());
  const noUrl = await cli([
    "send",
    "--config",
    ws.config,
    "--command",
    "Group.CallbackAfterSendMsg",
  ]);
  assert.equal(noUrl.code, 2);
  assert.match(noUrl.stderr, /port 0: give the address with --url/);
  const noSample = await cli([
    "send",
    "--config",
    ws.config,
    "--command",
    "Brand.Unknown",
    "--url",
    "http://127.0.0.1:1/",
  ]);
  assert.equal(noSample.code, 2);
  assert.match(noSample.stderr, /no built-in sample for "Brand\.Unknown"/);

  await using served = await serve(ws.config);
  await Deno.writeTextFile(
    `${ws.dir}/bad.json`,
    '{"CallbackCommand":"Group.CallbackAfterSendMsg"}',
  );
  const fail = await cli([
    "send",
    "--config",
    ws.config,
    "--command",
    "Group.CallbackAfterSendMsg",
    "--body",
    `${ws.dir}/bad.json`,
    "--url",
    served.url,
  ]);
  assert.equal(fail.code, 1);
  assert.match(
    fail.stdout,
    /^400 \{"ActionStatus":"FAIL","ErrorCode":400,"ErrorInfo":"Group\.CallbackAfterSendMsg payload: /,
  );
});
