import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import type { CallbackEvent, PluginContext, PluginInstance } from "../plugin.ts";
import fileLogger, { type FileLoggerOptions, formatLogLine } from "./file_logger.ts";
import { tempDir } from "../core/_testing.ts";

const OPTIONS_CTX = { name: "audit", configDir: "/etc/imhookd" };

function event(id: number, extra: Partial<CallbackEvent> = {}): CallbackEvent {
  const payload = {
    CallbackCommand: "Group.CallbackAfterSendMsg",
    GroupId: "@TGS#2J4SZEAEL",
    MsgSeq: String(id),
    From_Account: "alice",
    MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: `hello ${id}` } }],
    CloudCustomData: "secret stuff",
  };
  return {
    id: String(id),
    command: "Group.CallbackAfterSendMsg",
    sdkAppId: "1400000000",
    receivedAt: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    attempt: 1,
    payload,
    rawBody: JSON.stringify(payload),
    ...extra,
    // As the engine hands them over: the body as received is the payload's JSON.
    ...(extra.payload && extra.rawBody === undefined
      ? { rawBody: JSON.stringify(extra.payload) }
      : {}),
  };
}

/** Sends LogTape records of the test loggers into `records` until the returned disposer runs. */
async function captureLogs(records: LogRecord[]): Promise<AsyncDisposable> {
  await configure({
    reset: true,
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["test"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
  });
  return { [Symbol.asyncDispose]: () => reset() };
}

function context(dir: string): PluginContext {
  return {
    name: "audit",
    configDir: dir,
    logger: getLogger(["test", "file_logger"]),
    signal: new AbortController().signal,
  };
}

async function start(
  dir: string,
  raw: Record<string, unknown>,
): Promise<PluginInstance & AsyncDisposable> {
  const options = fileLogger.parseOptions(raw, { name: "audit", configDir: dir });
  const instance = await fileLogger.create(options, context(dir));
  return instance as PluginInstance & AsyncDisposable;
}

async function readLines(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(path);
  assert.ok(text === "" || text.endsWith("\n"), "the file ends on a whole line");
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

const signal = new AbortController().signal;

Deno.test("file_logger: parseOptions resolves the path and fills the defaults", () => {
  assert.deepEqual(fileLogger.parseOptions({ path: "logs/cb.jsonl" }, OPTIONS_CTX), {
    path: "/etc/imhookd/logs/cb.jsonl",
    redact: [],
    fsync: false,
  });
  assert.deepEqual(
    fileLogger.parseOptions({
      path: "/var/log/cb.jsonl",
      rotate: { max_bytes: "10MiB" },
      redact: ["MsgBody", "Info.Reason"],
      fsync: true,
    }, OPTIONS_CTX),
    {
      path: "/var/log/cb.jsonl",
      rotate: { maxBytes: 10 * 1024 * 1024, keep: 5 },
      redact: ["MsgBody", "Info.Reason"],
      fsync: true,
    } satisfies FileLoggerOptions,
  );
  assert.deepEqual(
    fileLogger.parseOptions({ path: "a", rotate: { max_bytes: 1000, keep: 2 } }, OPTIONS_CTX)
      .rotate,
    { maxBytes: 1000, keep: 2 },
  );
});

Deno.test("file_logger: parseOptions names the key of a bad option", () => {
  const cases: [unknown, ErrorConstructor, string][] = [
    ["x", TypeError, 'options: expected a mapping, got "x"'],
    [undefined, TypeError, "options.path: required, e.g. ./logs/callbacks.jsonl"],
    [{ path: "" }, TypeError, 'options.path: expected a non-empty string, got ""'],
    [{ path: 3 }, TypeError, "options.path: expected a non-empty string, got 3"],
    [
      { path: "a", colour: "red" },
      TypeError,
      "options.colour: unknown option; expected one of path, rotate, redact, fsync",
    ],
    [{ path: "a", fsync: "yes" }, TypeError, 'options.fsync: expected true or false, got "yes"'],
    [
      { path: "a", redact: "MsgBody" },
      TypeError,
      'options.redact: expected a list of field paths, got "MsgBody"',
    ],
    [{ path: "a", redact: ["ok", 1] }, TypeError, "options.redact[1]: expected a string, got 1"],
    [
      { path: "a", redact: ["Info..Reason"] },
      RangeError,
      'options.redact[0]: expected a field path such as "MsgBody" or "Info.Reason", got "Info..Reason"',
    ],
    [
      { path: "a", rotate: 5 },
      TypeError,
      "options.rotate: expected a mapping with max_bytes and keep, got 5",
    ],
    [{ path: "a", rotate: {} }, TypeError, "options.rotate.max_bytes: required, e.g. 10MiB"],
    [
      { path: "a", rotate: { max_bytes: "ten" } },
      RangeError,
      'options.rotate.max_bytes: expected a size such as 10MiB, got "ten"',
    ],
    [
      { path: "a", rotate: { max_bytes: true } },
      TypeError,
      "options.rotate.max_bytes: expected a size such as 10MiB, got true",
    ],
    [
      { path: "a", rotate: { max_bytes: 0 } },
      RangeError,
      "options.rotate.max_bytes: expected a size above 0, got 0",
    ],
    [
      { path: "a", rotate: { max_bytes: 10, keep: 0 } },
      RangeError,
      "options.rotate.keep: expected an integer >= 1, got 0",
    ],
    [
      { path: "a", rotate: { max_bytes: 10, keep: 1.5 } },
      RangeError,
      "options.rotate.keep: expected an integer >= 1, got 1.5",
    ],
    [
      { path: "a", rotate: { max_bytes: 10, keep: "2" } },
      TypeError,
      'options.rotate.keep: expected an integer >= 1, got "2"',
    ],
    [
      { path: "a", rotate: { max_bytes: 10, count: 2 } },
      TypeError,
      "options.rotate.count: unknown option; expected one of max_bytes, keep",
    ],
  ];
  for (const [raw, errorClass, message] of cases) {
    assert.throws(() => fileLogger.parseOptions(raw, OPTIONS_CTX), (error: unknown) => {
      assert.ok(error instanceof errorClass, `${JSON.stringify(raw)} throws ${errorClass.name}`);
      assert.equal(error.message, message);
      return true;
    });
  }
});

Deno.test("file_logger: formatLogLine writes the documented fields and blanks redacted paths", () => {
  const original = event(7, {
    payload: {
      CallbackCommand: "Group.CallbackAfterMemberExit",
      GroupId: "g1",
      Info: { Reason: "kicked", Other: 1 },
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "hi" } }],
      "__proto__": { polluted: true },
    },
  });
  const before = structuredClone(original.payload);
  const line = formatLogLine(original, [
    "Info.Reason",
    "MsgBody.MsgContent",
    "Absent.Path",
    "__proto__",
  ]);
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    id: "7",
    received_at: "2024-01-02T03:04:05.678Z",
    command: "Group.CallbackAfterSendMsg",
    sdk_app_id: "1400000000",
    client_ip: null,
    opt_platform: null,
    payload: {
      CallbackCommand: "Group.CallbackAfterMemberExit",
      GroupId: "g1",
      Info: { Reason: "", Other: 1 },
      MsgBody: [{ MsgType: "TIMTextElem", MsgContent: "" }],
      "__proto__": "",
    },
  });
  assert.deepEqual(original.payload, before, "event.payload is not mutated");
  const withClient = JSON.parse(
    formatLogLine(event(8, { clientIp: "1.2.3.4", optPlatform: "iOS" })),
  );
  assert.equal(withClient.client_ip, "1.2.3.4");
  assert.equal(withClient.opt_platform, "iOS");
});

Deno.test("file_logger: an unredacted line carries the body as received, on one line", () => {
  const payload = { CallbackCommand: "Group.CallbackAfterSendMsg", GroupId: "g1", N: 1.5 };
  const spaced =
    '  { "CallbackCommand" : "Group.CallbackAfterSendMsg",\t"GroupId": "g1", "N": 1.5 } ';
  const spliced = formatLogLine(event(9, { payload, rawBody: spaced }));
  assert.ok(spliced.endsWith("}\n") && !spliced.slice(0, -1).includes("\n"));
  assert.ok(spliced.includes(`"payload":${spaced.trim()}}`), "the body is written as received");
  assert.deepEqual(JSON.parse(spliced).payload, payload);
  // A body over several lines is written from the payload, so the line stays one line.
  const pretty = JSON.stringify(payload, null, 2);
  const line = formatLogLine(event(10, { payload, rawBody: pretty }));
  assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"));
  assert.deepEqual(JSON.parse(line), JSON.parse(formatLogLine(event(10, { payload }))));
  assert.deepEqual(JSON.parse(line).payload, payload);
});

Deno.test("file_logger: appends one line per callback to a new 0640 file, keeping old lines", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "logs", "callbacks.jsonl");
  await Deno.mkdir(join(dir.path, "logs"));
  await Deno.writeTextFile(path, '{"old":true}\n');
  await Deno.chmod(path, 0o600);
  {
    await using logger = await start(dir.path, {
      path: "logs/callbacks.jsonl",
      redact: ["MsgBody", "CloudCustomData"],
    });
    await logger.handle(event(1, { clientIp: "10.0.0.1", optPlatform: "Web" }), signal);
    await logger.handle(event(2), signal);
  }
  const lines = await readLines(path);
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0], { old: true });
  assert.deepEqual(lines[1], {
    id: "1",
    received_at: "2024-01-02T03:04:05.678Z",
    command: "Group.CallbackAfterSendMsg",
    sdk_app_id: "1400000000",
    client_ip: "10.0.0.1",
    opt_platform: "Web",
    payload: {
      CallbackCommand: "Group.CallbackAfterSendMsg",
      GroupId: "@TGS#2J4SZEAEL",
      MsgSeq: "1",
      From_Account: "alice",
      MsgBody: "",
      CloudCustomData: "",
    },
  });
  assert.equal(lines[2]!.id, "2");

  // A file the plugin creates itself gets mode 0640 (less whatever the umask takes away).
  const fresh = join(dir.path, "new", "deep", "fresh.jsonl");
  {
    await using logger = await start(dir.path, { path: fresh, fsync: true });
    await logger.handle(event(3), signal);
  }
  assert.equal((await Deno.stat(fresh)).mode! & 0o777, 0o640 & ~process.umask());
  assert.equal((await readLines(fresh)).length, 1);
});

Deno.test("file_logger: lines handed over together are all written, in order", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  {
    await using logger = await start(dir.path, { path });
    await Promise.all(Array.from({ length: 500 }, (_, i) => logger.handle(event(i), signal)));
    // A second wave while nothing is in flight.
    await Promise.all(Array.from({ length: 10 }, (_, i) => logger.handle(event(500 + i), signal)));
  }
  const ids = (await readLines(path)).map((line) => Number(line.id));
  assert.deepEqual(ids, Array.from({ length: 510 }, (_, i) => i));
});

Deno.test("file_logger: multi-byte text and lines larger than the write buffer stay intact", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  const big = "群消息😀".repeat(100_000); // ~1.4 MB of UTF-8, past the 256 KiB scratch buffer
  const events = [event(1), event(2, { payload: { CallbackCommand: "X", Text: big } }), event(3)];
  {
    await using logger = await start(dir.path, { path, rotate: { max_bytes: "1MiB", keep: 2 } });
    await Promise.all(events.map((e) => logger.handle(e, signal)));
    await logger.handle(event(4, { payload: { CallbackCommand: "X", Text: "短" } }), signal);
  }
  const all = [
    ...await readLines(`${path}.2`),
    ...await readLines(`${path}.1`),
    ...await readLines(path),
  ];
  assert.deepEqual(all.map((l) => l.id), ["1", "2", "3", "4"]);
  assert.equal((all[1]!.payload as { Text: string }).Text, big);
  assert.equal((all[3]!.payload as { Text: string }).Text, "短");
});

Deno.test("file_logger: dispose waits for queued lines; later calls are refused", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  const logger = await start(dir.path, { path });
  const pending = Array.from({ length: 20 }, (_, i) => logger.handle(event(i), signal));
  await logger[Symbol.asyncDispose]();
  await Promise.all(pending);
  assert.equal((await readLines(path)).length, 20);
  await assert.rejects(
    async () => await logger.handle(event(99), signal),
    new TypeError(`Cannot write to "${path}": the file logger is closed`),
  );
  const aborted = new AbortController();
  aborted.abort(new RangeError("handler timed out"));
  await using other = await start(dir.path, { path });
  await assert.rejects(async () => await other.handle(event(1), aborted.signal), {
    name: "RangeError",
    message: "handler timed out",
  });
});

Deno.test("file_logger: rotation keeps max_bytes per file and `keep` older files", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "callbacks.jsonl");
  const lineBytes = new TextEncoder().encode(formatLogLine(event(100))).length;
  const maxBytes = lineBytes * 3 + 10; // three lines per file
  {
    await using logger = await start(dir.path, { path, rotate: { max_bytes: maxBytes, keep: 2 } });
    // Concurrent calls land in one batch that has to be split at the rotation points.
    await Promise.all(Array.from({ length: 8 }, (_, i) => logger.handle(event(100 + i), signal)));
    await logger.handle(event(108), signal);
    await logger.handle(event(109), signal);
  }
  const names = [];
  for await (const entry of Deno.readDir(dir.path)) names.push(entry.name);
  assert.deepEqual(names.sort(), ["callbacks.jsonl", "callbacks.jsonl.1", "callbacks.jsonl.2"]);
  const ids = async (file: string) => (await readLines(join(dir.path, file))).map((l) => l.id);
  // Files of three lines: 100-102 was shifted past .2 and dropped.
  assert.deepEqual(await ids("callbacks.jsonl"), ["109"]);
  assert.deepEqual(await ids("callbacks.jsonl.1"), ["106", "107", "108"]);
  assert.deepEqual(await ids("callbacks.jsonl.2"), ["103", "104", "105"]);
  for (const name of names) {
    assert.ok((await Deno.stat(join(dir.path, name))).size <= maxBytes);
  }
  // On restart the size of the existing file counts toward max_bytes.
  {
    await using logger = await start(dir.path, { path, rotate: { max_bytes: maxBytes, keep: 2 } });
    await logger.handle(event(110), signal);
    await logger.handle(event(111), signal);
    await logger.handle(event(112), signal);
  }
  assert.deepEqual(await ids("callbacks.jsonl"), ["112"]);
  assert.deepEqual(await ids("callbacks.jsonl.1"), ["109", "110", "111"]);
});

Deno.test("file_logger: a line longer than max_bytes gets a file of its own", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  {
    await using logger = await start(dir.path, { path, rotate: { max_bytes: 50, keep: 3 } });
    for (let i = 0; i < 3; i++) await logger.handle(event(i), signal);
  }
  assert.deepEqual((await readLines(path)).map((l) => l.id), ["2"]);
  assert.deepEqual((await readLines(`${path}.1`)).map((l) => l.id), ["1"]);
  assert.deepEqual((await readLines(`${path}.2`)).map((l) => l.id), ["0"]);
});

Deno.test("file_logger: create cuts a torn last line back to the last newline", async () => {
  const records: LogRecord[] = [];
  await using _logs = await captureLogs(records);
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  await Deno.writeTextFile(path, '{"a":1}\n{"b":2}\n{"c":');
  {
    await using logger = await start(dir.path, { path });
    await logger.handle(event(1), signal);
  }
  const lines = await readLines(path);
  assert.deepEqual(lines.slice(0, 2), [{ a: 1 }, { b: 2 }]);
  assert.equal(lines[2]!.id, "1");
  assert.equal(lines.length, 3);
  const warnings = records.filter((r) => r.level === "warning");
  assert.equal(warnings.length, 1);
  assert.deepEqual(warnings[0]!.properties, { bytes: 5, path });

  // No newline at all (longer than one read chunk): the whole file is a torn line.
  await Deno.writeTextFile(path, "x".repeat(200_000));
  {
    await using _logger = await start(dir.path, { path });
  }
  assert.equal(await Deno.readTextFile(path), "");

  // An intact file is left alone and nothing is logged.
  await Deno.writeTextFile(path, '{"a":1}\n');
  records.length = 0;
  {
    await using _logger = await start(dir.path, { path });
  }
  assert.equal(await Deno.readTextFile(path), '{"a":1}\n');
  assert.equal(records.length, 0);
});

const CHILD_SCRIPT = `
import fileLogger from ${JSON.stringify(new URL("./file_logger.ts", import.meta.url).href)};
import { getLogger } from "@logtape/logtape";
const [path] = Deno.args;
const options = fileLogger.parseOptions({ path }, { name: "child", configDir: "/" });
const signal = new AbortController().signal;
const logger = await fileLogger.create(options, {
  name: "child", configDir: "/", logger: getLogger(["child"]), signal,
});
const big = "y".repeat(300 * 1024);
for (let round = 0; ; round++) {
  await Promise.all([0, 1, 2, 3].map((j) => {
    const payload = { CallbackCommand: "Demo", Text: big, N: round * 4 + j };
    return logger.handle({
      id: String(round * 4 + j), command: "Demo", sdkAppId: "1", receivedAt: Date.now(),
      attempt: 1, payload, rawBody: JSON.stringify(payload),
    }, signal);
  }));
  if (round === 10) await Deno.stdout.write(new TextEncoder().encode("ready\\n"));
}
`;

Deno.test("file_logger: after a SIGKILL mid-write, the file ends on a whole line at the next start", async () => {
  await using dir = await tempDir("file_logger_test_");
  const path = join(dir.path, "cb.jsonl");
  const script = join(dir.path, "child.ts");
  await Deno.writeTextFile(script, CHILD_SCRIPT);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      script,
      path,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  child.kill("SIGKILL");
  const status = await child.status;
  await reader.cancel();
  assert.ok(seen.includes("ready"), "the child wrote lines before being killed");
  assert.equal(status.signal, "SIGKILL");

  {
    await using _logger = await start(dir.path, { path });
  }
  const lines = await readLines(path);
  assert.ok(lines.length >= 44, `at least 44 lines survived, got ${lines.length}`);
  for (const line of lines) assert.equal((line.payload as { N: number }).N, Number(line.id));
});

Deno.test("file_logger: parseOptions reports every bad option at once", () => {
  assert.throws(
    () =>
      fileLogger.parseOptions(
        { path: 5, fsync: "yes", redact: ["a", ""], rotate: { max_bytes: "ten", keep: 0 } },
        OPTIONS_CTX,
      ),
    (error: unknown) => {
      assert.ok(error instanceof AggregateError);
      assert.deepEqual(error.errors.map((e: Error) => e.message), [
        "options.path: expected a non-empty string, got 5",
        'options.fsync: expected true or false, got "yes"',
        'options.redact[1]: expected a field path such as "MsgBody" or "Info.Reason", got ""',
        'options.rotate.max_bytes: expected a size such as 10MiB, got "ten"',
        "options.rotate.keep: expected an integer >= 1, got 0",
      ]);
      return true;
    },
  );
});
