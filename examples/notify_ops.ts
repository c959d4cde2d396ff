// examples/notify_ops.ts — use it with:
//   - name: notify_ops
//     use: ./notify_ops.ts
//     on: ["Group.CallbackAfterSendMsg"]
//     options: { url: "https://chat.example.internal/hook", min_length: 1 }
// Types only: erased when imhookd loads the file, so it runs without plugin.ts beside it.
// Point the path at a copy of imhookd's plugin.ts for your editor.
import type { CallbackEvent, Plugin } from "../plugin.ts";

interface Options {
  url: string;
  minLength: number;
}

const plugin: Plugin<Options> = {
  name: "notify_ops",

  // Runs at start (and in `imhookd check`): validate, return typed options, or throw.
  parseOptions(raw) {
    const options = (raw ?? {}) as Record<string, unknown>;
    if (typeof options.url !== "string") {
      throw new TypeError(`options.url: expected a URL string, got ${JSON.stringify(options.url)}`);
    }
    const minLength = options.min_length ?? 1;
    if (typeof minLength !== "number") throw new TypeError("options.min_length: expected a number");
    return { url: options.url, minLength };
  },

  // Runs once when serve starts; ctx has name, configDir, logger (LogTape) and signal.
  create(options, ctx) {
    return {
      async handle(event: CallbackEvent, signal: AbortSignal) {
        const body = event.payload.MsgBody as { MsgType: string; MsgContent?: { Text?: string } }[];
        const text = body.map((e) => e.MsgContent?.Text ?? "").join("");
        if (text.length < options.minLength) return;
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ group: event.payload.GroupId, text }),
          signal, // aborted at handler_timeout or shutdown
        });
        await response.body?.cancel();
        if (response.status >= 500) throw new Error(`chat answered ${response.status}`); // retried
        if (!response.ok) {
          // A permanent error goes straight to the dead letters.
          throw Object.assign(new Error(`chat refused: ${response.status}`), { permanent: true });
        }
        ctx.logger.debug("Posted message {id}", { id: event.id });
      },
      async [Symbol.asyncDispose]() {
        // flush and close what the plugin holds
      },
    };
  },
};

export default plugin;
