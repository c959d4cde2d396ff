/**
 * The plugin contract of imhookd. A plugin module's default export is a {@linkcode Plugin};
 * plugin files may `import type` from here (the import is erased at load time).
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import type { CallbackPayload } from "./core/protocol/payloads.ts";

export type { CallbackPayload };

/** One journaled callback, as handed to a plugin's `handle`. */
export interface CallbackEvent<P extends Record<string, unknown> = CallbackPayload> {
  /** Journal id, stable across retries and replays. */
  id: string;
  /** The `CallbackCommand`. */
  command: string;
  /** The `SdkAppid` of the query string. */
  sdkAppId: string;
  /** When imhookd received the callback, in ms since the epoch. */
  receivedAt: number;
  /** The end user's IP (`ClientIP` query parameter), when Tencent sent it. */
  clientIp?: string;
  /** The `OptPlatform` query parameter, when Tencent sent it. */
  optPlatform?: string;
  /** 1 on the first delivery to this plugin, then 2, 3, ... on retries. */
  attempt: number;
  /** The parsed JSON body, exactly as sent (numbers sent as strings stay strings). */
  payload: P;
  /** The body exactly as received. */
  rawBody: string;
}

/** What `parseOptions` receives besides the raw options. */
export interface PluginOptionsContext {
  /** The plugin entry's `name` in the config. */
  name: string;
  /** The folder of the config file: resolve relative option paths against it. */
  configDir: string;
}

/** What `create` receives besides the parsed options. */
export interface PluginContext extends PluginOptionsContext {
  /** A LogTape logger whose category names this plugin. */
  logger: Logger;
  /** Aborted when imhookd shuts down. */
  signal: AbortSignal;
}

/** A running plugin. */
export interface PluginInstance {
  /**
   * Handles one callback. Throw to have it retried (see {@linkcode DeliveryErrorFields});
   * `signal` aborts when `delivery.handler_timeout` passes or imhookd shuts down.
   */
  handle(event: CallbackEvent, signal: AbortSignal): Promise<void> | void;
  /** Flushes and closes whatever the plugin holds. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** The default export of a plugin module. */
export interface Plugin<O = unknown> {
  /** The plugin's own name (for logs). */
  name: string;
  /** Validates the config entry's `options`; throw a `TypeError` or `RangeError` to reject. */
  parseOptions?(raw: unknown, ctx: PluginOptionsContext): O;
  /** Starts the plugin. */
  create(options: O, ctx: PluginContext): Promise<PluginInstance> | PluginInstance;
  /**
   * The Deno permissions the plugin needs for `options` (hosts to reach, files to read), for
   * running it in a thread of its own. Optional; relative paths resolve against `configDir`.
   * Read for built-in plugins only: a user plugin's thread gets what its config entry's
   * `permissions` grants, by default read access to its own folder.
   */
  permissions?(options: O, ctx: { configDir: string }): Deno.PermissionOptionsObject;
}

/**
 * Fields an error thrown from `handle` may carry to steer its retry:
 * `permanent: true` makes it a dead letter at once; `retryAfterMs` waits at least that long.
 */
export interface DeliveryErrorFields {
  permanent?: boolean;
  retryAfterMs?: number;
}
