/**
 * The plugin contract of imhookd. A plugin module's default export is a {@linkcode Plugin};
 * plugin files may `import type` from here (the import is erased at load time).
 *
 * It imports nothing but its own `plugin_types/` folder (the payload type of every known
 * command, {@linkcode CommandPayloads}): copy this file and that folder beside your plugin, or
 * import it from a checkout, and your plugin type-checks on its own. It holds the contract,
 * the payload types and typed events ({@linkcode CommandEvent}). Test helpers (`makeEvent`, a context with a captured logger,
 * samples) are in `testing.ts`.
 *
 * @module
 */
import type { CommandPayloads } from "./plugin_types/command_payloads.ts";
import type { CallbackPayload, MsgBodyElement } from "./plugin_types/payloads.ts";

export type { CommandPayloads } from "./plugin_types/command_payloads.ts";
export type * from "./plugin_types/payloads.ts";

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
  /**
   * How a decision callback (a `.CallbackBefore*` or `.CallbackPrev*` command) was decided,
   * as answered to Tencent; absent for other commands. Not set in `decide`.
   */
  decision?: DecisionRecord;
}

/**
 * A decider's answer to a decision callback (see {@linkcode PluginInstance.decide}). Fields a
 * command does not take make the decision invalid (and the fallback answer).
 */
export interface Decision {
  /** `drop`: `*.CallbackBeforeSendMsg` only; the message is discarded, the sender sees success. */
  verdict: "allow" | "reject" | "drop";
  /**
   * `reject` only: 1 (the default; the client gets Tencent's generic error) or a code in the
   * command's custom range, which reaches the client with `info`: Group 10100-10200,
   * C2C and OfficialAccount 120001-130000, Sns 38000-39000 (Sns takes no 1; default 38000).
   */
  code?: number;
  /** `reject` only: the `ErrorInfo` (`ResultInfo` on Sns commands). */
  info?: string;
  /** `allow` on a `*.CallbackBeforeSendMsg` command: what Tencent sends instead. */
  replace?: { MsgBody?: MsgBodyElement[]; CloudCustomData?: string };
  /**
   * `allow` on `Group.CallbackBeforeInviteJoinGroup` and
   * `OfficialAccount.CallbackBeforeAddSubscriber`: the accounts refused, the others join.
   */
  refuseMembers?: string[];
  /**
   * `allow` on `Sns.CallbackPrevFriendAdd` and `Sns.CallbackPrevFriendResponse`: a result per
   * friend; `ResultCode` 0 allows, 38000-39000 refuses. Friends not listed are allowed.
   */
  friendResults?: FriendResult[];
}

/** One friend's result in a {@linkcode Decision} of an `Sns.CallbackPrev*` command. */
export interface FriendResult {
  To_Account: string;
  ResultCode: number;
  ResultInfo?: string;
}

/** How one decider fared in a decision. */
export interface DeciderRun {
  plugin: string;
  /**
   * What it answered (`none`: no opinion), or how it failed: it threw or its thread was down
   * (`error`), answered past the deadline (`timeout`), answered something the command does not
   * take (`invalid`), or was not asked (`skipped`: its circuit breaker is open, or the deadline
   * had passed).
   */
  outcome: "allow" | "reject" | "drop" | "none" | "error" | "timeout" | "invalid" | "skipped";
  /** How long it took, in ms. */
  ms: number;
  /** Why it failed. */
  error?: string;
}

/** How a decision callback was decided: stored with it, and handed to `handle` as `decision`. */
export interface DecisionRecord {
  verdict: "allow" | "reject" | "drop";
  /** The code of a `reject`. */
  code?: number;
  /** The info of a `reject`. */
  info?: string;
  /**
   * The plugin whose verdict stands; `fallback` when a decider failed (see `reason`) and the
   * command's fallback decided; `none` when no decider had an opinion.
   */
  by: string;
  /** Why the fallback decided. */
  reason?: string;
  /** Whether Tencent was told to send a replaced `MsgBody` or `CloudCustomData`. */
  replaced: boolean;
  /** The replacements, when `replaced`. */
  replace?: { MsgBody?: MsgBodyElement[]; CloudCustomData?: string };
  /** The accounts refused, every decider's together. */
  refuseMembers?: string[];
  /** The friends' results, merged per `To_Account` (a refusal wins). */
  friendResults?: FriendResult[];
  /** The deciders asked (or skipped), in config order. */
  deciders: DeciderRun[];
  /** From receipt to the decision, in ms. */
  ms: number;
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
  /** A logger whose category names this plugin (LogTape's, in imhookd). */
  logger: PluginLogger;
  /** Aborted when imhookd shuts down. */
  signal: AbortSignal;
}

/** A running plugin: it has `handle`, `decide`, or both. */
export interface PluginInstance {
  /**
   * Handles one callback. Throw to have it retried (see {@linkcode DeliveryErrorFields});
   * `signal` aborts when `delivery.handler_timeout` passes or imhookd shuts down.
   */
  handle?(event: CallbackEvent, signal: AbortSignal): Promise<void> | void;
  /**
   * Decides a decision callback (a `.CallbackBefore*` or `.CallbackPrev*` command its `on`
   * matches) before it is journaled and answered; `undefined` means no opinion. The event's
   * `id` is `""` (there is no journal id yet). `signal` aborts at `decisions.deadline`, after
   * which the answer no longer counts. Deciders are asked in config order, each seeing the
   * payload as replaced by the ones before; the first `reject` or `drop` ends the chain.
   */
  decide?(
    event: CallbackEvent,
    signal: AbortSignal,
  ): Decision | undefined | Promise<Decision | undefined>;
  /** Flushes and closes whatever the plugin holds. */
  [Symbol.asyncDispose]?(): Promise<void>;
}

/** A plugin instance that has `handle` (as every built-in that delivers callbacks). */
export type Handler = PluginInstance & Required<Pick<PluginInstance, "handle">>;

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

/**
 * The logger a plugin gets: messages with `{placeholders}` filled from `properties`, as
 * LogTape's `Logger` (which imhookd passes) writes them.
 */
export interface PluginLogger {
  debug(message: string, properties?: Record<string, unknown>): void;
  info(message: string, properties?: Record<string, unknown>): void;
  warn(message: string, properties?: Record<string, unknown>): void;
  error(message: string, properties?: Record<string, unknown>): void;
}

/** The name of a known command: a key of {@linkcode CommandPayloads}. */
export type KnownCommand = keyof CommandPayloads;

/**
 * A callback of a known command, its payload typed: `CommandEvent<"Group.CallbackAfterSendMsg">`
 * has `payload.MsgBody`. For several commands, a union to narrow by `event.command`. A plugin
 * may take it in `handle` for the commands its `on` subscribes it to.
 */
export type CommandEvent<C extends KnownCommand = KnownCommand> = C extends KnownCommand
  ? CallbackEvent<CommandPayloads[C]> & { command: C }
  : never;
