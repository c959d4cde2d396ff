import assert from "node:assert/strict";
import { tempDir } from "../_testing.ts";
import {
  readPluginStates,
  REFRESH_MS,
  removePluginStates,
  writePluginStates,
} from "./plugin_states.ts";

Deno.test("plugin states: written whole, read back while fresh, ignored once stale or removed", async () => {
  await using dir = await tempDir("imhookd-states-");
  const path = `${dir.path}/journal.db.plugins`;
  assert.equal(readPluginStates(path), undefined);
  const states = {
    pid: 42,
    at: 1_000_000,
    stuck: 1,
    plugins: [{ name: "bad", state: "running" as const, restarts: 2, reason: "is restarting" }],
  };
  writePluginStates(path, states);
  assert.deepEqual(readPluginStates(path, 1_000_000 + REFRESH_MS), states);
  assert.equal(readPluginStates(path, 1_000_000 + 4 * REFRESH_MS), undefined);
  removePluginStates(path);
  removePluginStates(path);
  assert.equal(readPluginStates(path, 1_000_000), undefined);
});
