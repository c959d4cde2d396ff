import assert from "node:assert/strict";
import {
  renderDenoJson,
  renderDenoUnit,
  renderTask,
  renderUnit,
  RUNTIME_ARGS,
  RUNTIME_ENV,
  type RuntimeSettings,
  syncRuntime,
  UNIT_MARKER,
} from "./runtime.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The settings with one more flag, as a change to scripts/runtime.ts would make them. */
const MORE: RuntimeSettings = {
  args: ["--unstable-net", "--unstable-worker-options", "--allow-net"],
  env: { MALLOC_ARENA_MAX: "2", EXTRA: "1" },
};

Deno.test("runtime: deno.json and deploy/imhookd.service are as scripts/runtime.ts writes them", async () => {
  assert.deepEqual(await syncRuntime({ check: true }), [], "run `deno task runtime`");
});

Deno.test("runtime: a new flag reaches the start, cli and compile tasks, keeping what follows", () => {
  const json = JSON.stringify(
    {
      tasks: {
        start: "A=1 deno run --unstable-net --allow-net main.ts serve --config c.yaml",
        test: "deno test --allow-all",
        cli: "deno run --allow-read main.ts",
        compile: "deno compile --allow-net --include plugins/ --output dist/imhookd main.ts",
      },
    },
    null,
    2,
  );
  const tasks = (JSON.parse(renderDenoJson(json, MORE)) as { tasks: Record<string, string> })
    .tasks;
  assert.deepEqual(tasks, {
    start:
      "MALLOC_ARENA_MAX=2 EXTRA=1 deno run --unstable-net --unstable-worker-options --allow-net main.ts serve --config c.yaml",
    test: "deno test --allow-all",
    cli:
      "MALLOC_ARENA_MAX=2 EXTRA=1 deno run --unstable-net --unstable-worker-options --allow-net main.ts",
    compile:
      "deno compile --unstable-net --unstable-worker-options --allow-net --include plugins/ --output dist/imhookd main.ts",
  });
});

Deno.test("runtime: the unit's generated Environment= lines follow the settings, the rest stays", () => {
  const unit = ["[Service]", "Environment=NO_COLOR=1", UNIT_MARKER, "Environment=OLD=1", "", "X=y"]
    .join("\n");
  assert.equal(
    renderUnit(unit, MORE),
    [
      "[Service]",
      "Environment=NO_COLOR=1",
      UNIT_MARKER,
      "Environment=MALLOC_ARENA_MAX=2",
      "Environment=EXTRA=1",
      "",
      "X=y",
    ].join("\n"),
  );
});

Deno.test("runtime: the deno run unit gets the flags on its Exec lines, its own flags kept", () => {
  const unit = [
    "[Service]",
    "ExecStart=/usr/local/bin/deno run --cached-only --allow-env /opt/i/main.ts serve --config c",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "ExecStartPre=/usr/local/bin/deno run --frozen --config /opt/i/deno.json /opt/i/main.ts check",
    UNIT_MARKER,
    "Environment=OLD=1",
  ].join("\n");
  assert.equal(
    renderDenoUnit(unit, MORE),
    [
      "[Service]",
      "ExecStart=/usr/local/bin/deno run --cached-only --unstable-net --unstable-worker-options --allow-net /opt/i/main.ts serve --config c",
      "ExecReload=/bin/kill -HUP $MAINPID",
      "ExecStartPre=/usr/local/bin/deno run --frozen --config /opt/i/deno.json --unstable-net --unstable-worker-options --allow-net /opt/i/main.ts check",
      UNIT_MARKER,
      "Environment=MALLOC_ARENA_MAX=2",
      "Environment=EXTRA=1",
    ].join("\n"),
  );
});

Deno.test("runtime: the defaults render the tasks the bench and the tests run serve with", () => {
  const env = Object.entries(RUNTIME_ENV).map(([key, value]) => `${key}=${value}`);
  assert.equal(
    renderTask("deno run main.ts"),
    [...env, "deno", "run", ...RUNTIME_ARGS, "main.ts"].join(" "),
  );
});

Deno.test("runtime: a place that cannot be rewritten is an error that names it", async () => {
  assert.throws(() => renderTask("bash x.sh"), {
    name: "SyntaxError",
    message: 'Cannot rewrite task "bash x.sh": it runs neither deno run nor compile',
  });
  assert.throws(() => renderUnit("[Service]\n"), {
    name: "SyntaxError",
    message: `Cannot find the line "${UNIT_MARKER}" in the systemd unit`,
  });
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  assert.throws(() => renderDenoJson(readme), {
    name: "SyntaxError",
    message: 'Cannot find task "start" in deno.json',
  });
});
