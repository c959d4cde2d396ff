/**
 * `imhookd version`: the imhookd, Deno, V8 and TypeScript versions.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import { type CliOptions, EXIT, type OptionName } from "./_command.ts";
import { print } from "./_output.ts";

/** The help of `version`. */
export const help = `Usage: imhookd version

Prints the imhookd, Deno, V8 and TypeScript versions.`;

/** `version` takes no options. */
export const options: readonly OptionName[] = [];

/** Prints the versions. */
export function run(_options: CliOptions): number {
  print(
    `imhookd ${denoJson.version}\ndeno ${Deno.version.deno}\nv8 ${Deno.version.v8}\ntypescript ${Deno.version.typescript}`,
  );
  return EXIT.ok;
}
