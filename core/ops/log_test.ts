import assert from "node:assert/strict";
import { logger, scrubSecrets, setupLogging } from "./log.ts";
import { tempDir } from "../_testing.ts";

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

Deno.test("log: a Sign quoted anywhere in a line is redacted", () => {
  const lines: string[] = [];
  setupLogging({ level: "info", format: "json", write: (line) => lines.push(line) });
  logger("test").error("Request failed: {error}", {
    error: new TypeError(
      'Invalid URL: "http://a b/im/callback?SdkAppid=1&RequestTime=1&Sign=17773bc39a6&x=1"',
    ),
  });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("17773bc39a6"), lines[0]);
  assert.match(JSON.parse(lines[0]!).error, /&Sign=<redacted>&x=1"$/);
  assert.equal(scrubSecrets("?Sign=abc"), "?Sign=<redacted>");
  assert.equal(scrubSecrets("no secret here"), "no secret here");
});

/** Runs `code` (a module importing log.ts) in a child process; its exit code and stderr. */
async function runChild(code: string): Promise<{ code: number; lines: string[] }> {
  await using dir = await tempDir("imhookd-log-");
  const file = `${dir.path}/child.ts`;
  await Deno.writeTextFile(
    file,
    code.replaceAll("LOG_TS", new URL("./log.ts", import.meta.url).href),
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
      file,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  return { code: output.code, lines: text.split("\n").filter((line) => line !== "") };
}

Deno.test("log: with JSON logs, Node's warnings and uncaught errors are JSON lines too", async () => {
  const child = await runChild(`
import process from "node:process";
import { logUncaught, setupLogging } from "LOG_TS";
setupLogging({ level: "info", format: "json" });
logUncaught();
setTimeout(() => {}, -5);
process.emitWarning("something odd");
setTimeout(() => Promise.reject(new RangeError("nobody waits for this")), 50);
setTimeout(() => Deno.exit(0), 10_000);
`);
  assert.equal(child.code, 1);
  const records = child.lines.map((line) => JSON.parse(line));
  assert.deepEqual(records.map((r) => [r.level, r.logger]), [
    ["warning", "imhookd.process"],
    ["warning", "imhookd.process"],
    ["fatal", "imhookd.process"],
  ]);
  assert.match(records[0].message, /^TimeoutNegativeWarning: -5 is a negative number/);
  assert.equal(records[1].message, "Warning: something odd");
  assert.match(records[2].message, /^Unhandled rejection: RangeError: nobody waits for this/);
});

Deno.test("log: an uncaught error is one fatal JSON line, exit 1", async () => {
  const child = await runChild(`
import { logUncaught, setupLogging } from "LOG_TS";
setupLogging({ level: "info", format: "json" });
logUncaught();
setTimeout(() => { throw new TypeError("thrown from a timer"); }, 10);
setTimeout(() => Deno.exit(0), 10_000);
`);
  assert.equal(child.code, 1);
  assert.equal(child.lines.length, 1, child.lines.join("\n"));
  const record = JSON.parse(child.lines[0]!);
  assert.equal(record.level, "fatal");
  assert.match(record.message, /^Uncaught error: TypeError: thrown from a timer/);
});
