import assert from "node:assert/strict";
import { logger, setupLogging } from "./log.ts";

Deno.test("log: JSON lines render values bare and keep properties", () => {
  const lines: string[] = [];
  setupLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
  logger("test").info("Listening on {address} ({count} apps)", {
    address: "127.0.0.1:1",
    count: 2,
  });
  logger("test").debug("hidden at info");
  logger("test").error("Failed: {error}", { error: new RangeError("boom") });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]!);
  assert.equal(first.message, "Listening on 127.0.0.1:1 (2 apps)");
  assert.equal(first.level, "info");
  assert.equal(first.logger, "imhookd.test");
  assert.equal(first.count, 2);
  assert.ok(lines[0]!.endsWith("}\n"));
  assert.equal(JSON.parse(lines[1]!).error, "boom");
});

Deno.test("log: pretty lines render the message with bare values", () => {
  const lines: string[] = [];
  setupLogging({ level: "debug", format: "pretty", write: (line) => lines.push(line) });
  logger("test").debug("Journaled callback {id}", { id: 7 });
  assert.equal(lines.length, 1);
  // deno-lint-ignore no-control-regex
  const plain = lines[0]!.replace(/\x1b\[[0-9;]*m/g, "");
  assert.match(plain, /DBG\s+imhookd·test: Journaled callback 7\n$/);
});
