import assert from "node:assert/strict";
import { patternWarnings } from "./patterns.ts";
import { KNOWN_COMMANDS } from "../protocol/commands.ts";

Deno.test("patternWarnings: patterns that match no known command, with the nearest one", () => {
  const warnings = patternWarnings([
    { index: 0, on: ["*", "Group.*", "C2C.CallbackAfterSendMsg"] },
    {
      index: 1,
      on: ["Grup.*", "Group.CallbackAfterSendMessage", "group.callbackaftersendmsg", "Brand.New"],
    },
  ], KNOWN_COMMANDS);
  assert.deepEqual(warnings, [
    {
      path: ["plugins", 1, "on", 0],
      message:
        '"Grup.*" matches no known command (did you mean "Group.*"?): the plugin gets only unknown commands it matches',
    },
    {
      path: ["plugins", 1, "on", 1],
      message:
        '"Group.CallbackAfterSendMessage" matches no known command (did you mean "Group.CallbackAfterSendMsg"?): the plugin gets only a command of that name',
    },
    {
      path: ["plugins", 1, "on", 2],
      message:
        '"group.callbackaftersendmsg" matches no known command (did you mean "Group.CallbackAfterSendMsg"?): the plugin gets only a command of that name',
    },
    {
      path: ["plugins", 1, "on", 3],
      message: '"Brand.New" matches no known command: the plugin gets only a command of that name',
    },
  ]);
});
