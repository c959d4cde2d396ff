/**
 * imhookd, the Tencent Cloud IM callback daemon: the entry point of its command line
 * (`serve`, `check`, `send`, `status`, `replay`, `version`; see `cli/mod.ts`).
 *
 * @module
 */
export { EXIT, main } from "./cli/mod.ts";
import { main } from "./cli/mod.ts";

if (import.meta.main) {
  // A compiled binary runs itself this way for a plugin with `isolation: process`; from source
  // the daemon runs core/delivery/plugin_host.ts directly.
  if (Deno.args[0] === "__plugin-host") {
    const { runPluginHost } = await import("./core/delivery/plugin_host.ts");
    Deno.exit(await runPluginHost());
  }
  Deno.exit(await main(Deno.args));
}
