import assert from "node:assert/strict";
import { BUILTINS } from "./builtins.ts";
import { mayDecide } from "./plugin_handle.ts";
import { BUILTIN_PLUGINS } from "../config/config.ts";
import { runtimeModules } from "../_testing.ts";

Deno.test("builtins: each loads a plugin module, and the config accepts exactly their names", async () => {
  assert.deepEqual(BUILTIN_PLUGINS, [
    "file_logger",
    "webhook_forwarder",
    "sqlite_sync",
    "postgres_sync",
    "nats_forwarder",
    "moderation",
  ]);
  for (const [name, load] of BUILTINS) {
    const plugin = (await load()).default as { create?: unknown };
    assert.equal(typeof plugin.create, "function", name);
  }
  assert.equal(BUILTINS.get("toString"), undefined);
});

Deno.test("builtins: the delivery engine's and the plugins' threads, built-ins included, load neither zod nor yaml", async () => {
  const engine = await runtimeModules(new URL("./worker.ts", import.meta.url));
  const plugins = await runtimeModules(new URL("./plugin_thread.ts", import.meta.url));
  for (const name of BUILTIN_PLUGINS) {
    const plugin = new URL(`../../plugins/${name}.ts`, import.meta.url).href;
    assert.ok(plugins.has(plugin), `${plugin} not in ${[...plugins].join(", ")}`);
  }
  for (const module of [...engine, ...plugins]) {
    assert.ok(!/^npm:\/(zod|yaml)@/.test(module), module);
    assert.ok(!module.endsWith("/config/config.ts"), module);
    assert.ok(!module.endsWith("/protocol/schemas.ts"), module);
  }
});

Deno.test("mayDecide: a plugin whose on matches a decision command, unless a handling built-in", () => {
  const entry = (use: string, on: string[]) => ({ use, on });
  assert.equal(mayDecide(entry("builtin:moderation", ["Group.CallbackBeforeSendMsg"])), true);
  assert.equal(mayDecide(entry("builtin:moderation", ["Group.CallbackAfterSendMsg"])), false);
  assert.equal(mayDecide(entry("builtin:file_logger", ["*"])), false);
  assert.equal(mayDecide(entry("/srv/plugins/mine.ts", ["*"])), true);
  assert.equal(mayDecide(entry("/srv/plugins/mine.ts", ["Sns.*"])), true);
  assert.equal(mayDecide(entry("/srv/plugins/mine.ts", ["Group.CallbackAfterSendMsg"])), false);
  assert.equal(mayDecide(entry("/srv/plugins/mine.ts", ["State.*"])), false);
});
