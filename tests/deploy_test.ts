/**
 * The deploy files: both systemd units pass `systemd-analyze verify`; the `deno run` one runs
 * the checkout's main.ts with the runtime flags and permissions (scripts/runtime.ts writes
 * them, scripts/runtime_test.ts checks they are up to date), differs from the binary's in
 * nothing else, and its command line serves.
 */
import assert from "node:assert/strict";
import { RUNTIME_ARGS, RUNTIME_ENV } from "../scripts/runtime.ts";
import {
  APP,
  eventually,
  hasTool,
  recorded,
  ROOT,
  serveCommand,
  signedQuery,
  TOKEN,
  workspace,
} from "./_helpers.ts";

const BINARY_UNIT = `${ROOT}deploy/imhookd.service`;
const DENO_UNIT = `${ROOT}deploy/imhookd-deno.service`;
/** Where the `deno run` unit expects the checkout and the Deno binary. */
const CHECKOUT = "/opt/imhookd/";
const DENO = "/usr/local/bin/deno";

const ANALYZE = hasTool("systemd-analyze");
if (!ANALYZE) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      "deploy_test: unit test skipped: systemd-analyze is not installed (apt-get install systemd)\n",
    ),
  );
}

/** The value of each `Key=value` line of a unit (`Key` repeated: every value). */
async function unitLines(path: string): Promise<string[]> {
  return (await Deno.readTextFile(path)).split("\n").filter((line) => /^\w+=/.test(line));
}

function value(lines: string[], key: string): string {
  const found = lines.filter((line) => line.startsWith(`${key}=`));
  assert.equal(found.length, 1, `one ${key}= line`);
  return found[0]!.slice(key.length + 1);
}

Deno.test("systemd: deploy/imhookd-deno.service is imhookd.service with deno run of the checkout, the runtime flags", async () => {
  const binary = await unitLines(BINARY_UNIT);
  const deno = await unitLines(DENO_UNIT);
  const run = [
    DENO,
    "run",
    "--cached-only",
    "--frozen",
    "--config",
    `${CHECKOUT}deno.json`,
    ...RUNTIME_ARGS,
  ].join(" ");
  assert.equal(
    value(deno, "ExecStart"),
    `${run} ${CHECKOUT}main.ts ${
      value(binary, "ExecStart").replace("/usr/local/bin/imhookd ", "")
    }`,
  );
  assert.equal(
    value(deno, "ExecStartPre"),
    `${run} ${CHECKOUT}main.ts ${
      value(binary, "ExecStartPre").replace("/usr/local/bin/imhookd ", "")
    }`,
  );
  assert.equal(value(deno, "Environment=DENO_DIR"), `${CHECKOUT}.deno`);
  // Everything else, the hardening included, is the same, in the same order.
  const others = (lines: string[]): string[] =>
    lines.filter((line) =>
      !/^(ExecStart|ExecStartPre|Documentation)=/.test(line) &&
      !line.startsWith("Environment=DENO_DIR=")
    );
  assert.deepEqual(others(deno), others(binary));
});

Deno.test({
  name: "systemd: both units pass systemd-analyze verify without a warning",
  ignore: !ANALYZE,
  fn: async () => {
    const unit = await Deno.readTextFile(BINARY_UNIT);
    for (
      const line of [
        "Type=notify",
        "NotifyAccess=main",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=im_token:/etc/imhookd/im_token",
        "DynamicUser=yes",
        "StateDirectory=imhookd",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
      ]
    ) {
      assert.ok(unit.split("\n").includes(line), `the unit has ${line}`);
    }
    assert.match(unit, /^WatchdogSec=\d+s$/m);
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m, "V8's JIT needs W+X memory");
    const production = await Deno.readTextFile(`${ROOT}deploy/config.yaml`);
    assert.match(production, /\$\{file:\$\{CREDENTIALS_DIRECTORY\}\/im_token\}/);

    for (const [path, executable] of [[BINARY_UNIT, "/usr/local/bin/imhookd"], [DENO_UNIT, DENO]]) {
      // verify checks that ExecStart's binary exists: point it at a stand-in.
      const dir = await Deno.makeTempDir({ prefix: "imhookd-unit-" });
      try {
        await Deno.copyFile("/bin/true", `${dir}/imhookd`);
        await Deno.chmod(`${dir}/imhookd`, 0o755);
        const text = await Deno.readTextFile(path!);
        await Deno.writeTextFile(
          `${dir}/imhookd.service`,
          text.replaceAll(`${executable} `, `${dir}/imhookd `),
        );
        const output = await new Deno.Command("systemd-analyze", {
          args: ["verify", `${dir}/imhookd.service`],
          env: { SYSTEMD_LOG_LEVEL: "notice" },
        }).output();
        const stderr = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 0, `${path}: ${stderr}`);
        const own = stderr.split("\n").filter((line) => line.includes("imhookd"));
        assert.deepEqual(own, [], `no warning about ${path}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test("systemd: the deno run unit's command line serves from the cache alone", async () => {
  await using ws = await workspace(`
server: { listen: 127.0.0.1:0 }
apps: [{ sdk_app_id: ${APP}, token: ${TOKEN} }]
journal: { path: ./journal.db }
log: { format: json }
plugins:
  - name: audit
    use: builtin:file_logger
    options: { path: ./callbacks.jsonl }
`);
  const [command, ...args] = value(await unitLines(DENO_UNIT), "ExecStart")
    .replaceAll(CHECKOUT, ROOT)
    .replace("/etc/imhookd/config.yaml", ws.config)
    .split(" ");
  assert.equal(command, DENO);
  await using served = await serveCommand(Deno.execPath(), args, { ...RUNTIME_ENV });
  const response = await fetch(`${served.url}?${signedQuery("Group.CallbackAfterSendMsg")}`, {
    method: "POST",
    body: JSON.stringify({
      CallbackCommand: "Group.CallbackAfterSendMsg",
      GroupId: "@TGS#deploy",
      MsgSeq: 1,
      From_Account: "ops",
      MsgBody: [],
    }),
  });
  assert.equal(response.status, 200, await response.text());
  await eventually(
    async () => (await recorded(`${ws.dir}/callbacks.jsonl`)).length === 1,
    "the callback is logged",
  );
  assert.equal(await served.stop(), 0);
});
