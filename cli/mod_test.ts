import assert from "node:assert/strict";
import { runtimeModules } from "../core/_testing.ts";

Deno.test("cli: the dispatcher and version load neither the daemon nor zod nor yaml", async () => {
  const modules = new Set([
    ...await runtimeModules(new URL("./mod.ts", import.meta.url), { dynamic: false }),
    ...await runtimeModules(new URL("./version.ts", import.meta.url)),
  ]);
  assert.ok(modules.has(new URL("./version.ts", import.meta.url).href));
  for (const module of modules) {
    assert.ok(!module.includes("/core/"), module);
    assert.ok(!/^npm:\/(zod|yaml)@/.test(module), module);
  }
  // The commands are there, behind import().
  const all = await runtimeModules(new URL("./mod.ts", import.meta.url));
  assert.ok(all.has(new URL("../core/daemon.ts", import.meta.url).href));
});
