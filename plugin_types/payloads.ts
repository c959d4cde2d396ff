/**
 * The payload types of Tencent Cloud IM callbacks, one per known command (see `command_payloads.ts`,
 * written from imhookd's command table): the shared pieces in `payload_parts.ts`, the commands
 * by family in `payloads_group.ts`, `payloads_user.ts` and `payloads_services.ts`, all
 * re-exported here, by `plugin.ts` for plugins and by `core/protocol/payloads.ts` for imhookd. Types only: plugins may import them freely. Integer fields are
 * `number | string`: Tencent sends numeric strings too.
 *
 * @module
 */

export type * from "./payload_parts.ts";
export type * from "./payloads_group.ts";
export type * from "./payloads_user.ts";
export type * from "./payloads_services.ts";
