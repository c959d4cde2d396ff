import assert from "node:assert/strict";
import { Router } from "./router.ts";

Deno.test("router: exact, prefix and catch-all patterns", () => {
  const router = new Router([
    { name: "all", on: ["*"] },
    { name: "groups", on: ["Group.*"] },
    { name: "sends", on: ["Group.CallbackAfterSendMsg", "C2C.CallbackAfterSendMsg"] },
  ]);
  assert.deepEqual(router.match("Group.CallbackAfterSendMsg"), ["all", "groups", "sends"]);
  assert.deepEqual(router.match("Group.CallbackAfterGroupAttrChanged"), ["all", "groups"]);
  assert.deepEqual(router.match("C2C.CallbackAfterSendMsg"), ["all", "sends"]);
  assert.deepEqual(router.match("Brand.NewCommand"), ["all"]);
  assert.deepEqual(router.match("GroupX.Callback"), ["all"]);
  assert.deepEqual(router.table(), [
    { pattern: "*", plugins: ["all"] },
    { pattern: "Group.*", plugins: ["groups"] },
    { pattern: "Group.CallbackAfterSendMsg", plugins: ["sends"] },
    { pattern: "C2C.CallbackAfterSendMsg", plugins: ["sends"] },
  ]);
});
