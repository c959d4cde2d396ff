/**
 * The payload types of Tencent Cloud IM callbacks, one per known command (`commands.ts` ties
 * each command to its type). They are declared once, in `plugin_types/` beside `plugin.ts`,
 * so that the plugin kit and imhookd share them. Types only.
 *
 * @module
 */

export type * from "../../plugin_types/payloads.ts";
