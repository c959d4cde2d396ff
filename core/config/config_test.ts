import assert from "node:assert/strict";
import { join } from "node:path";
import { type Config, ConfigError, loadConfig, parseConfig, type PluginEntry } from "./config.ts";
import { matchesPattern } from "./patterns.ts";
import { pluginChanged } from "../delivery/loader.ts";

const MINIMAL = "apps:\n  - sdk_app_id: 1400000000\n";

/** Asserts that `fn` throws a ConfigError whose message is exactly `message`. */
function assertConfigError(fn: () => unknown, message: string): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  assert.ok(caught instanceof SyntaxError);
  assert.equal(caught.message, message);
  return caught;
}

/** The config without its `locate` function, for deepEqual. */
function data(config: Config): Omit<Config, "locate"> {
  const { locate: _, ...rest } = config;
  return rest;
}

Deno.test("config: a minimal config gets every default", () => {
  const config = parseConfig(MINIMAL, "/etc/imhookd/config.yaml", { env: {} });
  assert.deepEqual(data(config), {
    file: "/etc/imhookd/config.yaml",
    dir: "/etc/imhookd",
    server: {
      listen: { hostname: "127.0.0.1", port: 8080 },
      path: "/im/callback",
      maxBodyBytes: 1_048_576,
      maxInFlight: 1024,
      maxConnections: 1024,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
    },
    apps: [{ sdkAppId: "1400000000", maxSkewMs: 60_000 }],
    journal: {
      path: "/etc/imhookd/data/journal.db",
      retentionMs: 7 * 24 * 3_600_000,
      durability: "os",
      dedupWindowMs: 24 * 3_600_000,
    },
    delivery: {
      maxAttempts: 12,
      initialBackoffMs: 1_000,
      maxBackoffMs: 600_000,
      handlerTimeoutMs: 30_000,
      ordering: "per_group",
      shutdownGraceMs: 10_000,
      pluginStallMs: 30_000,
      maxStuckThreads: 2,
      startTimeoutMs: 30_000,
    },
    log: { level: "info", format: "auto" },
    decisions: {
      deadlineMs: 1_500,
      fallback: "allow",
      fallbackByCommand: {},
      breaker: { failures: 5, cooldownMs: 30_000 },
    },
    plugins: [],
  });
  assert.equal(config.admin, undefined);
  assert.equal(config.server.tls, undefined);
});

Deno.test("config: every key can be set, and empty sections take their defaults", () => {
  const text = `
server:
  listen: "[::]:0"
  path: /hooks/im
  max_body_bytes: 10MiB
  max_in_flight: 5
  max_connections: 300
  header_timeout: 5s
  idle_timeout: 2m
  tls: { cert_file: /etc/tls/cert.pem, key_file: key.pem }
admin:
apps:
  - sdk_app_id: "1400000001"
    token: abc
    max_skew: 500ms
journal:
  retention: 2h
  durability: fsync
  dedup_window: 1d
delivery:
  max_attempts: 3
  initial_backoff: 10ms
  max_backoff: 5s
  handler_timeout: 2s
  ordering: none
  shutdown_grace: 1m
log: { level: debug, format: json }
plugins:
  - name: crm
    use: /opt/plugins/crm.mjs
    on: [Group.CallbackAfterSendMsg, C2C.*]
    concurrency: 2
    ordering: per_group
    options: { url: "https://x.example" }
`;
  const config = parseConfig(text, "/srv/c.yaml", { env: {} });
  assert.deepEqual(config.server, {
    listen: { hostname: "::", port: 0 },
    path: "/hooks/im",
    maxBodyBytes: 10 * 1024 * 1024,
    maxInFlight: 5,
    maxConnections: 300,
    headerTimeoutMs: 5_000,
    idleTimeoutMs: 120_000,
    tls: { certFile: "/etc/tls/cert.pem", keyFile: "/srv/key.pem" },
  });
  assert.equal(config.admin, undefined); // `admin:` with nothing is no admin listener
  assert.deepEqual(config.apps, [{ sdkAppId: "1400000001", token: "abc", maxSkewMs: 500 }]);
  assert.deepEqual(config.journal, {
    path: "/srv/data/journal.db",
    retentionMs: 7_200_000,
    durability: "fsync",
    dedupWindowMs: 86_400_000,
  });
  assert.deepEqual(config.delivery, {
    maxAttempts: 3,
    initialBackoffMs: 10,
    maxBackoffMs: 5_000,
    handlerTimeoutMs: 2_000,
    ordering: "none",
    shutdownGraceMs: 60_000,
    pluginStallMs: 30_000,
    maxStuckThreads: 2,
    startTimeoutMs: 30_000,
  });
  assert.deepEqual(config.log, { level: "debug", format: "json" });
  assert.deepEqual(config.plugins, [{
    name: "crm",
    use: "/opt/plugins/crm.mjs",
    module: "/opt/plugins/crm.mjs",
    on: ["Group.CallbackAfterSendMsg", "C2C.*"],
    concurrency: 2,
    ordering: "per_group",
    options: { url: "https://x.example" },
    isolation: "thread",
    index: 0,
  }]);
});

Deno.test("config: ${VAR} and ${VAR:-default} are substituted, and whole values re-typed", () => {
  const text = `
server:
  listen: \${HOST:-127.0.0.1}:\${PORT}
apps:
  - sdk_app_id: \${APP_ID}
    token: \${TOKEN}
    max_skew: \${SKEW:-2m}
delivery:
  max_attempts: \${ATTEMPTS}
  ordering: \${ORDERING:-none}
plugins:
  - name: p
    use: ./p.ts
    options:
      fsync: \${FSYNC:-false}
      count: \${ATTEMPTS}
      quoted: "\${ATTEMPTS}"
      empty: \${UNSET:-}
      empty_var: \${EMPTY:-fallback}
      nested: \${UNSET:-\${APP_ID}}
      escaped: cost $\${ATTEMPTS} and $$ and $x
      mixed: n=\${ATTEMPTS}
`;
  const env = { PORT: "8443", APP_ID: "1400000002", TOKEN: "007", ATTEMPTS: "5", EMPTY: "" };
  const config = parseConfig(text, "/srv/c.yaml", { env });
  assert.deepEqual(config.server.listen, { hostname: "127.0.0.1", port: 8443 });
  // a digit-only token stays text, leading zero included
  assert.deepEqual(config.apps, [{ sdkAppId: "1400000002", token: "007", maxSkewMs: 120_000 }]);
  assert.equal(config.delivery.maxAttempts, 5);
  assert.equal(config.delivery.ordering, "none");
  assert.deepEqual(config.plugins[0]!.options, {
    fsync: false,
    count: 5,
    quoted: "5",
    empty: null,
    empty_var: "fallback",
    nested: 1400000002,
    escaped: "cost ${ATTEMPTS} and $$ and $x",
    mixed: "n=5",
  });
});

Deno.test("config: an empty token means no token", () => {
  const text = "apps:\n  - sdk_app_id: 1\n    token: ${T:-}\n  - sdk_app_id: 2\n    token:\n";
  const config = parseConfig(text, "/c.yaml", { env: {} });
  assert.deepEqual(config.apps, [
    { sdkAppId: "1", maxSkewMs: 60_000 },
    { sdkAppId: "2", maxSkewMs: 60_000 },
  ]);
  assert.equal("token" in config.apps[0]!, false);
});

Deno.test("config: ${file:PATH} reads a file, with a nested variable and relative paths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "creds"));
    await Deno.mkdir(join(dir, "etc"));
    await Deno.writeTextFile(join(dir, "creds", "token"), "s3cr3t-token\n");
    await Deno.writeTextFile(join(dir, "etc", "app_id"), "1400000003\n\n");
    await Deno.writeTextFile(join(dir, "etc", "attempts"), "7");
    const text = `
apps:
  - sdk_app_id: \${file:app_id}
    token: \${file:\${CREDENTIALS_DIRECTORY}/token}
delivery:
  max_attempts: \${file:./attempts}
`;
    const file = join(dir, "etc", "config.yaml");
    await Deno.writeTextFile(file, text);
    const config = await loadConfig(file, { env: { CREDENTIALS_DIRECTORY: join(dir, "creds") } });
    // only one trailing newline is trimmed: "1400000003\n" re-reads as the number
    assert.deepEqual(config.apps, [{
      sdkAppId: "1400000003",
      token: "s3cr3t-token",
      maxSkewMs: 60_000,
    }]);
    assert.equal(config.delivery.maxAttempts, 7);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: relative paths resolve against the config folder, not the working directory", async () => {
  const dir = await Deno.makeTempDir();
  const cwd = Deno.cwd();
  try {
    await Deno.mkdir(join(dir, "conf", "sub"), { recursive: true });
    await Deno.mkdir(join(dir, "elsewhere"));
    await Deno.writeTextFile(
      join(dir, "conf", "sub", "imhookd.yaml"),
      `server:
  tls:
    cert_file: tls/cert.pem
    key_file: ../key.pem
apps:
  - sdk_app_id: 1
journal:
  path: state/journal.db
plugins:
  - name: mine
    use: ./plugins/mine.ts
    options:
      path: ./relative/stays.jsonl
`,
    );
    Deno.chdir(join(dir, "elsewhere"));
    const config = await loadConfig("../conf/sub/imhookd.yaml", { env: {} });
    const folder = join(await Deno.realPath(dir), "conf", "sub");
    assert.equal(config.file, join(folder, "imhookd.yaml"));
    assert.equal(config.dir, folder);
    assert.equal(config.journal.path, join(folder, "state", "journal.db"));
    assert.deepEqual(config.server.tls, {
      certFile: join(folder, "tls", "cert.pem"),
      keyFile: join(folder, "..", "key.pem"),
    });
    assert.equal(config.plugins[0]!.use, "./plugins/mine.ts");
    assert.equal(config.plugins[0]!.module, join(folder, "plugins", "mine.ts"));
    assert.deepEqual(config.plugins[0]!.options, { path: "./relative/stays.jsonl" });
    assert.equal(config.locate(["plugins", 0, "options", "path"]), `${config.file}:13:7`);
    assert.equal(config.locate(["plugins", 0, "options", "nope", 3]), `${config.file}:12:5`);
    assert.equal(config.locate(["apps", 0]), `${config.file}:6:5`);
    assert.equal(config.locate([]), `${config.file}:1:1`);
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: every error is reported at once with file, line, column and key path", () => {
  const text = `server:
  listen: localhost
  path: im/callback
  max_body_bytes: -5
  colour: blue
apps:
  - sdk_app_id: 1400000000
    max_skew: soon
  - sdk_app_id: "1400000000"
    token: 12345
journal:
  durability: always
plugins:
  - name: audit
    use: builtin:file_logger
    on: Group.*
  - name: audit
    use: builtin:nope
    on: ["Gr*up", "Group.*"]
    concurrency: 0
    options: { anything: [goes, here] }
  - use: ./plugin.py
    extra: 1
`;
  const error = assertConfigError(
    () => parseConfig(text, "config.yaml", { env: {} }),
    [
      'config.yaml:2:3 server.listen: invalid listen address "localhost": expected host:port such as 127.0.0.1:8080 or [::]:8080',
      'config.yaml:3:3 server.path: invalid path "im/callback": expected a URL path starting with "/"',
      'config.yaml:4:3 server.max_body_bytes: Cannot parse size "-5": expected bytes or a number with a unit such as 512KiB or 10MiB',
      "config.yaml:5:3 server.colour: unknown key",
      'config.yaml:8:5 apps[0].max_skew: Cannot parse duration "soon": expected a number with a unit such as 500ms, 10s, 5m, 2h or 7d',
      'config.yaml:9:5 apps[1].sdk_app_id: "1400000000" is already the sdk_app_id of apps[0]',
      "config.yaml:10:5 apps[1].token: expected a string, got a number",
      'config.yaml:12:3 journal.durability: expected one of os, fsync, got "always"',
      "config.yaml:16:5 plugins[0].on: expected a list of strings",
      'config.yaml:17:5 plugins[1].name: "audit" is already the name of plugins[0]',
      'config.yaml:18:5 plugins[1].use: unknown built-in plugin "nope": expected one of file_logger, webhook_forwarder, sqlite_sync, postgres_sync, nats_forwarder, moderation',
      'config.yaml:19:5 plugins[1].on: invalid pattern "Gr*up": expected an exact command, "Prefix.*" or "*"',
      "config.yaml:20:5 plugins[1].concurrency: expected an integer of at least 1, got 0",
      "config.yaml:22:5 plugins[2].name: required",
      'config.yaml:22:5 plugins[2].use: invalid plugin "./plugin.py": expected builtin:NAME or a path to a .ts, .js, .mts or .mjs file',
      "config.yaml:23:5 plugins[2].extra: unknown key",
    ].join("\n"),
  );
  assert.deepEqual(error.issues[0], {
    file: "config.yaml",
    line: 2,
    column: 3,
    path: "server.listen",
    message:
      'invalid listen address "localhost": expected host:port such as 127.0.0.1:8080 or [::]:8080',
  });
  assert.equal(error.issues.length, 16);
});

Deno.test("config: a plugin's ordering overrides delivery.ordering only where it is set", () => {
  const config = parseConfig(
    `
apps: [{ sdk_app_id: 1400000000 }]
delivery: { ordering: per_group }
plugins:
  - { name: a, use: builtin:file_logger }
  - { name: b, use: builtin:sqlite_sync, ordering: none }
`,
    "/srv/c.yaml",
    { env: {} },
  );
  assert.equal(config.plugins[0]!.ordering, undefined);
  assert.equal(config.plugins[1]!.ordering, "none");
  assert.throws(
    () =>
      parseConfig(
        "apps: [{ sdk_app_id: 1400000000 }]\nplugins:\n  - name: a\n    use: builtin:file_logger\n    ordering: sideways\n",
        "/srv/c.yaml",
        { env: {} },
      ),
    {
      message:
        '/srv/c.yaml:5:5 plugins[0].ordering: expected one of per_group, none, got "sideways"',
    },
  );
});

Deno.test("pluginChanged: a reload restarts a plugin whose module, options, concurrency, ordering, permissions or isolation changed", () => {
  const entry: PluginEntry = {
    name: "state",
    use: "builtin:sqlite_sync",
    module: "builtin:sqlite_sync",
    on: ["Group.*"],
    concurrency: 8,
    options: { path: "/srv/im.db" },
    isolation: "thread",
    index: 0,
  };
  assert.equal(pluginChanged(entry, { ...entry, on: ["*"], index: 2 }), false);
  assert.equal(pluginChanged(entry, { ...entry, options: { path: "/srv/im.db" } }), false);
  assert.equal(pluginChanged(entry, { ...entry, module: "/srv/state.ts" }), true);
  assert.equal(pluginChanged(entry, { ...entry, options: { path: "/srv/other.db" } }), true);
  assert.equal(pluginChanged(entry, { ...entry, concurrency: 9 }), true);
  assert.equal(pluginChanged(entry, { ...entry, ordering: "none" }), true);
  assert.equal(pluginChanged({ ...entry, ordering: "none" }, entry), true);
  assert.equal(pluginChanged(entry, { ...entry, permissions: "all" }), true);
  assert.equal(pluginChanged(entry, { ...entry, permissions: { net: true } }), true);
  assert.equal(pluginChanged(entry, { ...entry, isolation: "process" }), true);
  assert.equal(
    pluginChanged(
      { ...entry, isolation: "process" },
      { ...entry, isolation: "process", memoryLimit: 1 << 28 },
    ),
    true,
  );
});

Deno.test("config: plugins' permissions, isolation and memory_limit, and the supervision settings", () => {
  const config = parseConfig(
    `apps: [{ sdk_app_id: 1 }]
delivery: { plugin_stall: 5s, max_stuck_threads: 0, start_timeout: 2s }
plugins:
  - name: a
    use: ./a.ts
    permissions: { read: [./data, /srv/x], net: ["example.com:443"], env: true, run: [git, ./bin/tool] }
  - name: b
    use: ./b.ts
    isolation: process
    memory_limit: 256MiB
  - name: c
    use: builtin:file_logger
    permissions: all
`,
    "/etc/imhookd/config.yaml",
  );
  assert.deepEqual(config.plugins.map((p) => [p.permissions, p.isolation, p.memoryLimit]), [
    [
      {
        read: ["/etc/imhookd/data", "/srv/x"],
        net: ["example.com:443"],
        env: true,
        run: ["git", "/etc/imhookd/bin/tool"],
      },
      "thread",
      undefined,
    ],
    [undefined, "process", 256 * 1024 * 1024],
    ["all", "thread", undefined],
  ]);
  assert.equal(config.delivery.pluginStallMs, 5_000);
  assert.equal(config.delivery.maxStuckThreads, 0);
  assert.equal(config.delivery.startTimeoutMs, 2_000);
  const defaults = parseConfig("apps: [{ sdk_app_id: 1 }]", "/etc/imhookd/config.yaml");
  assert.equal(defaults.delivery.pluginStallMs, 30_000);
  assert.equal(defaults.delivery.maxStuckThreads, 2);
  assert.equal(defaults.delivery.startTimeoutMs, 30_000);
});

Deno.test("config: bad permissions and a memory_limit without isolation: process are errors", () => {
  let caught: unknown;
  try {
    parseConfig(
      `apps: [{ sdk_app_id: 1 }]
plugins:
  - name: a
    use: ./a.ts
    permissions: { files: [./x] }
  - name: b
    use: ./b.ts
    permissions: { net: 443 }
  - name: c
    use: ./c.ts
    permissions: everything
  - name: d
    use: ./d.ts
    memory_limit: 256MiB
  - name: e
    use: ./e.ts
    isolation: process
    memory_limit: 1MiB
`,
      "/etc/imhookd/config.yaml",
    );
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  const lines = caught.message.split("\n");
  for (
    const [i, pattern] of [
      /config\.yaml:5:5 plugins\[0\]\.permissions: unknown permission "files"/,
      /config\.yaml:8:5 plugins\[1\]\.permissions: net: expected a list of strings, true or false, got a number/,
      /config\.yaml:11:5 plugins\[2\]\.permissions: expected "all" or a map of net, read/,
      /config\.yaml:14:5 plugins\[3\]\.memory_limit: applies to isolation: process only/,
      /config\.yaml:18:5 plugins\[4\]\.memory_limit: expected at least 64MiB/,
    ].entries()
  ) assert.match(lines[i] ?? "", pattern, caught.message);
  assert.equal(lines.length, 5, caught.message);
});

Deno.test("config: apps is required and must not be empty", () => {
  assertConfigError(
    () => parseConfig("log:\n  level: info\n", "c.yaml", { env: {} }),
    "c.yaml:1:1 apps: required",
  );
  assertConfigError(
    () => parseConfig("apps: []\n", "c.yaml", { env: {} }),
    "c.yaml:1:1 apps: expected at least one app",
  );
  assertConfigError(
    () => parseConfig("- apps\n", "c.yaml", { env: {} }),
    "c.yaml:1:1 expected a map, got a list",
  );
});

Deno.test("config: unknown keys are errors at every level except plugin options", () => {
  const text = `apps:
  - sdk_app_id: 1
    tokn: x
delivery:
  retries: 3
loggin:
  level: info
plugins:
  - name: a
    use: builtin:file_logger
    options:
      free: { form: true, "weird key": 1 }
`;
  assertConfigError(
    () => parseConfig(text, "c.yaml", { env: {} }),
    [
      "c.yaml:3:5 apps[0].tokn: unknown key",
      "c.yaml:5:3 delivery.retries: unknown key",
      "c.yaml:6:1 loggin: unknown key",
    ].join("\n"),
  );
});

Deno.test("config: wrong types are named without showing the value", () => {
  const text = `server:
  max_in_flight: many
  listen: [1, 2]
apps:
  - sdk_app_id: [1400]
log: debug
plugins: { name: a }
`;
  assertConfigError(
    () => parseConfig(text, "c.yaml", { env: {} }),
    [
      'c.yaml:2:3 server.max_in_flight: expected an integer of at least 1, got "many"',
      "c.yaml:3:3 server.listen: invalid listen address a list: expected host:port such as 127.0.0.1:8080 or [::]:8080",
      "c.yaml:5:5 apps[0].sdk_app_id: expected an SDKAppID (an integer), got a list",
      "c.yaml:6:1 log: expected a map, got a string",
      "c.yaml:7:1 plugins: expected a list, got a map",
    ].join("\n"),
  );
});

Deno.test("config: a YAML syntax error gives its line and column", () => {
  assertConfigError(
    () => parseConfig("apps:\n  - sdk_app_id: 1\n   bad: [1, 2\n", "c.yaml", { env: {} }),
    [
      "c.yaml:3:1 Sequence item without - indicator",
      "c.yaml:4:1 Flow sequence in block collection must be sufficiently indented and end with a ]",
    ].join("\n"),
  );
  assertConfigError(
    () => parseConfig("apps:\n  - sdk_app_id: 1\napps: []\n", "c.yaml", { env: {} }),
    "c.yaml:3:1 Map keys must be unique",
  );
});

Deno.test("config: an empty file is an error", () => {
  for (const text of ["", "\n", "# only a comment\n"]) {
    assertConfigError(
      () => parseConfig(text, "c.yaml", { env: {} }),
      "c.yaml:1:1 the config is empty: expected a map with at least an `apps` list",
    );
  }
});

Deno.test("config: an unset variable without default is an error naming it, at its scalar", () => {
  const text = `apps:
  - sdk_app_id: \${APP_ID}
    token: "x-\${TOKEN}"
journal:
  path: \${DIR:-/var/lib}/\${NAME}.db
  retention: \${OK:-1d} \${broken
plugins:
  - name: a
    use: ./a.ts
    options:
      bad: \${not a var}
`;
  assertConfigError(
    () => parseConfig(text, "c.yaml", { env: {} }),
    [
      'c.yaml:2:17 apps[0].sdk_app_id: environment variable "APP_ID" is not set (write ${APP_ID:-default} to give a default)',
      'c.yaml:3:12 apps[0].token: environment variable "TOKEN" is not set (write ${TOKEN:-default} to give a default)',
      'c.yaml:5:9 journal.path: environment variable "NAME" is not set (write ${NAME:-default} to give a default)',
      'c.yaml:6:14 journal.retention: unterminated "${" at character 11: missing "}"',
      'c.yaml:11:12 plugins[0].options.bad: invalid reference "${not a var}": expected ${VAR}, ${VAR:-default} or ${file:PATH}',
    ].join("\n"),
  );
});

Deno.test("config: an unreadable ${file:} names the path, and secrets never reach a message", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secret = "tok-VERY-secret-42";
    await Deno.writeTextFile(join(dir, "token"), `${secret}\n`);
    const text = `server:
  listen: \${file:token}
  path: /\${file:token}?x
apps:
  - sdk_app_id: \${file:token}
    token: \${file:missing}
  - sdk_app_id: 2
    token: \${ENV_TOKEN}
journal:
  durability: \${ENV_TOKEN}
delivery:
  max_attempts: \${file:token}
`;
    const file = join(dir, "c.yaml");
    await Deno.writeTextFile(file, text);
    const missing = join(dir, "missing");
    let error: unknown;
    try {
      await loadConfig(file, { env: { ENV_TOKEN: "env-TOKEN-value" } });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    const lines = error.message.split("\n");
    assert.equal(lines.length, 6);
    assert.equal(
      lines[0],
      `${file}:2:3 server.listen: invalid listen address "***": expected host:port such as 127.0.0.1:8080 or [::]:8080`,
    );
    assert.match(
      lines[3]!,
      new RegExp(
        `^${escape(file)}:6:12 apps\\[0\\]\\.token: cannot read "${
          escape(missing)
        }" for \\$\\{file:\\.\\.\\.\\}: .+`,
      ),
    );
    assert.ok(!error.message.includes(secret), error.message);
    assert.ok(!error.message.includes("env-TOKEN-value"), error.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: an unreadable config file is a ConfigError at 1:1 with the OS reason", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "absent.yaml");
    await assert.rejects(loadConfig(file, { env: {} }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.issues.length, 1);
      assert.equal(error.issues[0]!.line, 1);
      assert.equal(error.issues[0]!.column, 1);
      assert.equal(error.issues[0]!.path, "");
      assert.match(
        error.message,
        /^.*absent\.yaml:1:1 cannot read the config file: .*No such file/,
      );
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("config: listen addresses accept IPv4, names and bracketed IPv6", () => {
  const cases: [string, { hostname: string; port: number } | null][] = [
    ["127.0.0.1:8080", { hostname: "127.0.0.1", port: 8080 }],
    ["0.0.0.0:0", { hostname: "0.0.0.0", port: 0 }],
    ["[::]:8080", { hostname: "::", port: 8080 }],
    ["[::1]:65535", { hostname: "::1", port: 65535 }],
    ["localhost:9", { hostname: "localhost", port: 9 }],
    ["::1:8080", null],
    ["127.0.0.1:65536", null],
    [":8080", null],
    ["127.0.0.1", null],
    ["127.0.0.1:80 ", null],
  ];
  for (const [listen, expected] of cases) {
    const text = `server:\n  listen: "${listen}"\n${MINIMAL}`;
    if (expected) {
      assert.deepEqual(parseConfig(text, "c.yaml", { env: {} }).server.listen, expected);
    } else {
      assert.throws(() => parseConfig(text, "c.yaml", { env: {} }), ConfigError, listen);
    }
  }
});

Deno.test("matchesPattern: exact, prefix and catch-all patterns", () => {
  assert.equal(matchesPattern("*", "Group.CallbackAfterSendMsg"), true);
  assert.equal(matchesPattern("*", "Anything"), true);
  assert.equal(matchesPattern("Group.*", "Group.CallbackAfterSendMsg"), true);
  assert.equal(matchesPattern("Group.*", "C2C.CallbackAfterSendMsg"), false);
  assert.equal(matchesPattern("Group.*", "Group"), false);
  assert.equal(matchesPattern("Group.*", "Group."), false);
  assert.equal(matchesPattern("Group.*", "GroupX.Callback"), false);
  assert.equal(matchesPattern("Group.Callback.*", "Group.Callback.Sub"), true);
  assert.equal(matchesPattern("C2C.CallbackAfterSendMsg", "C2C.CallbackAfterSendMsg"), true);
  assert.equal(matchesPattern("C2C.CallbackAfterSendMsg", "C2C.CallbackAfterSendMsgX"), false);
  assert.equal(matchesPattern("C2C.CallbackAfterSendMsg", "c2c.callbackaftersendmsg"), false);
});

Deno.test("config: config.example.yaml is valid with an empty environment", async () => {
  const file = new URL("../../config.example.yaml", import.meta.url).pathname;
  const config = await loadConfig(file, { env: {} });
  const dir = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
  assert.equal(config.dir, dir);
  assert.deepEqual(config.server.listen, { hostname: "127.0.0.1", port: 8080 });
  assert.equal(config.server.path, "/im/callback");
  assert.equal(config.server.maxBodyBytes, 1_048_576);
  assert.deepEqual(config.admin, { listen: { hostname: "127.0.0.1", port: 9090 } });
  assert.deepEqual(config.apps, [{ sdkAppId: "1400000000", maxSkewMs: 60_000 }]);
  assert.equal(config.journal.path, join(dir, "data", "journal.db"));
  assert.deepEqual(
    config.plugins.map((p) => [p.name, p.module, p.on, p.options]),
    [
      ["audit", "builtin:file_logger", ["*"], { path: "./data/callbacks.jsonl" }],
      ["group_state", "builtin:sqlite_sync", ["Group.*"], { path: "./data/im.db" }],
    ],
  );

  const withEnv = await loadConfig(file, {
    env: { IMHOOKD_SDK_APP_ID: "1400000099", IMHOOKD_TOKEN: "tok" },
  });
  assert.deepEqual(withEnv.apps, [{ sdkAppId: "1400000099", token: "tok", maxSkewMs: 60_000 }]);
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

Deno.test("config: a refused config still gives the plugin entries valid on their own", () => {
  const text = `apps:
  - sdk_app_id: 1400000000
    max_skew: 60
plugins:
  - name: good
    use: ./good.ts
    on: ["Group.*"]
  - name: bad
    use: builtin:nope
  - name: also_good
    use: builtin:file_logger
    options: { path: ./x.jsonl }
`;
  try {
    parseConfig(text, "/etc/imhookd/config.yaml", { env: {} });
    assert.fail("expected a ConfigError");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.issues.length, 2);
    const usable = error.usable as {
      dir: string;
      plugins: { name: string; module: string; index: number }[];
    };
    assert.equal(usable.dir, "/etc/imhookd");
    assert.deepEqual(
      usable.plugins.map((p) => [p.name, p.module, p.index]),
      [["good", "/etc/imhookd/good.ts", 0], ["also_good", "builtin:file_logger", 2]],
    );
    assert.equal(
      error.usable!.locate(["plugins", 2, "options", "path"]),
      "/etc/imhookd/config.yaml:12:16",
    );
  }
});

Deno.test("config: decisions take a deadline below 2s, fallbacks per decision command and a breaker", () => {
  const base = "apps:\n  - sdk_app_id: 1400000000\n";
  const config = parseConfig(
    `${base}decisions:
  deadline: 800ms
  fallback: reject
  fallback_by_command: { Group.CallbackBeforeSendMsg: allow, Sns.CallbackPrevFriendAdd: reject }
  breaker: { failures: 0, cooldown: 1m }
`,
    "config.yaml",
    { env: {} },
  );
  assert.deepEqual(config.decisions, {
    deadlineMs: 800,
    fallback: "reject",
    fallbackByCommand: {
      "Group.CallbackBeforeSendMsg": "allow",
      "Sns.CallbackPrevFriendAdd": "reject",
    },
    breaker: { failures: 0, cooldownMs: 60_000 },
  });
  assertConfigError(
    () =>
      parseConfig(
        `${base}decisions:
  deadline: 2s
  fallback: block
  fallback_by_command: { Group.CallbackAfterSendMsg: reject }
  breaker: { failures: -1 }
`,
        "config.yaml",
        { env: {} },
      ),
    [
      `config.yaml:4:3 decisions.deadline: expected a duration below Tencent's 2s timeout (the answer must follow the journal commit), got "2s"`,
      'config.yaml:5:3 decisions.fallback: expected one of allow, reject, got "block"',
      'config.yaml:6:3 decisions.fallback_by_command: "Group.CallbackAfterSendMsg" is not a decision command (a .CallbackBefore or .CallbackPrev one)',
      "config.yaml:7:14 decisions.breaker.failures: expected an integer of at least 0, got -1",
    ].join("\n"),
  );
});
