/**
 * Helpers to test an imhookd plugin without the daemon: events of any command (a realistic
 * sample, numbered afresh, or your payload), a context whose logger keeps what it logged, and
 * a plugin started from raw options and disposed with `await using`.
 *
 * ```ts
 * import { makeEvent, startPlugin } from "../testing.ts";
 * import plugin from "./hello.ts";
 *
 * Deno.test("hello: logs the text of a group message", async () => {
 *   await using hello = await startPlugin(plugin, {});
 *   await hello.instance.handle(makeEvent("Group.CallbackAfterSendMsg"), hello.ctx.signal);
 *   // hello.ctx.logs: what it logged
 * });
 * ```
 *
 * `imhookd plugin test` builds its events with {@linkcode makeEvent} too.
 *
 * @module
 */
import type {
  CallbackEvent,
  CallbackPayload,
  CommandEvent,
  CommandPayloads,
  KnownCommand,
  Plugin,
  PluginContext,
  PluginInstance,
  PluginLogger,
} from "./plugin.ts";
import { KNOWN_COMMANDS } from "./core/protocol/commands.ts";
import { freshSample } from "./core/protocol/samples.ts";

export { KNOWN_COMMANDS };

/** What makes an event besides its payload; every field has a default. */
export interface EventOptions {
  /** Default: a new number each call, from 1. */
  id?: string;
  /** Default `1400000000`. */
  sdkAppId?: string;
  /** Default: now. */
  receivedAt?: number;
  /** Default `127.0.0.1`; null for none. */
  clientIp?: string | null;
  /** Default `RESTAPI`; null for none. */
  optPlatform?: string | null;
  /** Default 1. */
  attempt?: number;
  /** The body as received; default: the payload as JSON. */
  rawBody?: string;
}

/** The payload of command `C` for {@linkcode makeEvent}: `CallbackCommand` may be left out. */
export type PayloadOf<C extends KnownCommand> =
  & {
    [K in keyof CommandPayloads[C] as K extends "CallbackCommand" ? never : K]:
      CommandPayloads[C][K];
  }
  & { CallbackCommand?: string };

let lastId = 0;

/**
 * A realistic payload of a known command (as `imhookd send` posts it): a fresh `MsgSeq` or
 * `MsgKey` each call, `EventTime` and `MsgTime` now. Undefined for an unknown command.
 */
export function sample<C extends KnownCommand>(command: C): CommandPayloads[C];
export function sample(command: string): CallbackPayload | undefined;
export function sample(command: string): CallbackPayload | undefined {
  return freshSample(command, Date.now(), ++lastId) as CallbackPayload | undefined;
}

/**
 * An event of `command`, as a plugin's `handle` or `decide` receives it. Its payload is
 * `payload` as given (`CallbackCommand` added when it lacks one), or else the command's
 * {@linkcode sample}; to change a sample, spread it: `{ ...sample(command), GroupId: "x" }`.
 */
export function makeEvent<C extends KnownCommand>(
  command: C,
  payload?: PayloadOf<C>,
  options?: EventOptions,
): CommandEvent<C>;
export function makeEvent<C extends string>(
  // A known command takes the typed signature above, never this one.
  command: C & (C extends KnownCommand ? never : unknown),
  payload?: Record<string, unknown>,
  options?: EventOptions,
): CallbackEvent;
export function makeEvent(
  command: string,
  payload?: Record<string, unknown>,
  options: EventOptions = {},
): CallbackEvent {
  const body = payload === undefined
    ? sample(command) ?? { CallbackCommand: command }
    : { CallbackCommand: command, ...payload };
  const clientIp = options.clientIp === undefined ? "127.0.0.1" : options.clientIp;
  const optPlatform = options.optPlatform === undefined ? "RESTAPI" : options.optPlatform;
  return {
    id: options.id ?? String(++lastId),
    command,
    sdkAppId: options.sdkAppId ?? "1400000000",
    receivedAt: options.receivedAt ?? Date.now(),
    ...(clientIp !== null ? { clientIp } : {}),
    ...(optPlatform !== null ? { optPlatform } : {}),
    attempt: options.attempt ?? 1,
    payload: body as CallbackPayload,
    rawBody: options.rawBody ?? JSON.stringify(body),
  };
}

/** One line a plugin logged through a {@linkcode TestContext}'s logger. */
export interface LogRecord {
  level: "debug" | "info" | "warn" | "error";
  /** The message with its `{placeholders}` filled. */
  message: string;
  /** The message as written, placeholders unfilled. */
  template: string;
  properties: Record<string, unknown>;
}

/** A plugin context whose logger keeps what it logs; its `signal` aborts on dispose. */
export interface TestContext extends PluginContext, Disposable {
  /** Everything logged so far, in order. */
  logs: LogRecord[];
}

/** A {@linkcode TestContext}: `name` default `test`, `configDir` default the working folder. */
export function testContext(options: { name?: string; configDir?: string } = {}): TestContext {
  const logs: LogRecord[] = [];
  const controller = new AbortController();
  const record =
    (level: LogRecord["level"]) =>
    (template: string, properties: Record<string, unknown> = {}): void => {
      logs.push({ level, message: fill(template, properties), template, properties });
    };
  const logger: PluginLogger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
  return {
    name: options.name ?? "test",
    configDir: options.configDir ?? Deno.cwd(),
    logger,
    signal: controller.signal,
    logs,
    [Symbol.dispose]: () => controller.abort(),
  };
}

/**
 * A plugin started by {@linkcode startPlugin}: its instance and its context. `handle` is typed
 * as present, for the tests of plugins that handle; a plugin that only decides has none.
 */
export interface StartedPlugin extends AsyncDisposable {
  instance: PluginInstance & Required<Pick<PluginInstance, "handle">>;
  ctx: TestContext;
}

/**
 * Runs `plugin`'s `parseOptions` on `rawOptions` (as imhookd does with a config entry's
 * `options`) and its `create`, with a {@linkcode testContext}. Dispose it (`await using`) to
 * run the instance's `[Symbol.asyncDispose]` and abort the context's signal.
 */
export async function startPlugin<O>(
  plugin: Plugin<O>,
  rawOptions: unknown,
  options: { name?: string; configDir?: string } = {},
): Promise<StartedPlugin> {
  const ctx = testContext(options);
  const parsed = plugin.parseOptions
    ? plugin.parseOptions(rawOptions, { name: ctx.name, configDir: ctx.configDir })
    : rawOptions as O;
  const instance = await plugin.create(parsed, ctx);
  return {
    instance: instance as StartedPlugin["instance"],
    ctx,
    async [Symbol.asyncDispose]() {
      try {
        await instance[Symbol.asyncDispose]?.();
      } finally {
        ctx[Symbol.dispose]();
      }
    },
  };
}

/** `{name}` replaced by `properties.name` (JSON for non-strings), as LogTape renders it. */
function fill(template: string, properties: Record<string, unknown>): string {
  return template.replace(/\{([^{}]+)\}/g, (whole, key: string) => {
    if (!(key in properties)) return whole;
    const value = properties[key];
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.message;
    return JSON.stringify(value) ?? String(value);
  });
}
