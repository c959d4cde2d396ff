import assert from "node:assert/strict";
import type { CommandPayloads as CorePayloads } from "./core/protocol/commands.ts";
import type { CommandEvent, CommandPayloads, KnownCommand, Plugin } from "./plugin.ts";

const ROOT = new URL("./", import.meta.url);

/** True when `A` and `B` are the same type (not merely assignable both ways). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

// Checked by the type checker: plugin.ts's map has every command of the command table, each
// with the same payload type (a swap of two look-alike payloads fails too).
const sameCommands: Equal<KnownCommand, keyof CorePayloads> = true;
const samePayloads: Equal<CommandPayloads, CorePayloads> = true;

Deno.test("plugin.ts: its payload types are core/protocol/payloads.ts's, word for word", async () => {
  const [kit, core] = await Promise.all([
    Deno.readTextFile(new URL("plugin.ts", ROOT)),
    Deno.readTextFile(new URL("core/protocol/payloads.ts", ROOT)),
  ]);
  const declarations = core.slice(core.indexOf("@module\n */\n") + "@module\n */\n".length).trim();
  const copied = /\/\/ BEGIN payloads\.ts\n([\s\S]*)\n\/\/ END payloads\.ts\n/.exec(kit)?.[1];
  assert.ok(copied !== undefined, "plugin.ts has the BEGIN/END payloads.ts markers");
  assert.equal(
    copied.trim(),
    declarations,
    "copy core/protocol/payloads.ts (after its module comment) between the markers of plugin.ts",
  );
  assert.ok(sameCommands && samePayloads);
});

Deno.test("plugin.ts: a copy of it alone type-checks, with a plugin typed by command", async () => {
  const dir = await Deno.makeTempDir({ prefix: "imhookd-kit-" });
  try {
    await Deno.copyFile(new URL("plugin.ts", ROOT), `${dir}/plugin.ts`);
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
          const key: string = event.payload.MsgKey;
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
