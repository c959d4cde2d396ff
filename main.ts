/**
 * imhookd, the Tencent Cloud IM callback daemon: the entry point of its command line
 * (`serve`, `check`, `send`, `status`, `replay`, `version`; see `cli/mod.ts`).
 *
 * @module
 */
export { EXIT, main } from "./cli/mod.ts";
import { main } from "./cli/mod.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
