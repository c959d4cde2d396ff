import assert from "node:assert/strict";
import type { CommandPayloads as CorePayloads } from "./core/protocol/commands.ts";
import type { CommandEvent, CommandPayloads, KnownCommand, Plugin } from "./plugin.ts";
import { commandTypes, generated, MAP_FILE, mapFile } from "./scripts/plugin_types.ts";

const ROOT = new URL("./", import.meta.url);

/** True when `A` and `B` are the same type (not merely assignable both ways). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

// Checked by the type checker: plugin.ts's map has every command of the command table, each
// with the same payload type (a swap of two look-alike payloads fails too).
const sameCommands: Equal<KnownCommand, keyof CorePayloads> = true;
const samePayloads: Equal<CommandPayloads, CorePayloads> = true;

Deno.test("plugin.ts: its command map is the command table's, as generated", async () => {
  assert.equal(
    await Deno.readTextFile(new URL(MAP_FILE, ROOT)),
    await generated(),
    `${MAP_FILE} is out of date: run \`deno task plugin-types\``,
  );
  assert.ok(sameCommands && samePayloads);
});

Deno.test("plugin-types: the generated map follows the command table's entries", () => {
  const table = `export const COMMANDS = {
  "Group.CallbackAfterSendMsg": after<P.GroupAfterSendMsgPayload>(
    "groupAfterSendMsg",
  ),
  "Push.OfflinePush": after<P.PushPayload>("push", CN, {}),
};`;
  assert.deepEqual(commandTypes(table), [
    ["Group.CallbackAfterSendMsg", "GroupAfterSendMsgPayload"],
    ["Push.OfflinePush", "PushPayload"],
  ]);
  assert.match(
    mapFile(table),
    /export interface CommandPayloads \{\n {2}"Group\.CallbackAfterSendMsg": P\.GroupAfterSendMsgPayload;\n {2}"Push\.OfflinePush": P\.PushPayload;\n\}\n$/,
  );
});

Deno.test("plugin.ts: a copy of it and its plugin_types/ folder type-checks, with a plugin typed by command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imhookd-kit-" });
  try {
    await Deno.copyFile(new URL("plugin.ts", ROOT), `${dir}/plugin.ts`);
    await Deno.mkdir(`${dir}/plugin_types`);
    for await (const entry of Deno.readDir(new URL("plugin_types/", ROOT))) {
      await Deno.copyFile(
        new URL(`plugin_types/${entry.name}`, ROOT),
        `${dir}/plugin_types/${entry.name}`,
      );
    }
    await Deno.writeTextFile(
      `${dir}/typed.ts`,
      `import type { CommandEvent, Plugin } from "./plugin.ts";
const plugin: Plugin<{ prefix: string }> = {
  name: "typed",
  parseOptions: () => ({ prefix: "> " }),
  create(options, ctx) {
    return {
      handle(event: CommandEvent<"Group.CallbackAfterSendMsg" | "C2C.CallbackAfterSendMsg">) {
        if (event.command === "Group.CallbackAfterSendMsg") {
          const group: string = event.payload.GroupId;
          ctx.logger.info(options.prefix + group, { seq: event.payload.MsgSeq });
        } else {
          const key: string = event.payload.MsgKey ?? event.payload.From_Account;
          ctx.logger.info(options.prefix + key);
        }
      },
    };
  },
};
export default plugin;
`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "plugin.ts", "typed.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, text);
    // And a wrong field is an error there: the types are real, not `unknown`.
    await Deno.writeTextFile(
      `${dir}/wrong.ts`,
      `import type { CommandEvent } from "./plugin.ts";
export function seq(event: CommandEvent<"C2C.CallbackAfterSendMsg">): string {
  return event.payload.GroupId;
}
`,
    );
    const wrong = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "wrong.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
    }).output();
    assert.equal(wrong.code, 1);
    assert.match(new TextDecoder().decode(wrong.stderr), /TS2322/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// A plugin may take typed events in handle: its instance still is a PluginInstance.
const typed: Plugin = {
  name: "typed",
  create: () => ({ handle(_event: CommandEvent<"State.StateChange">) {} }),
};
void typed;
