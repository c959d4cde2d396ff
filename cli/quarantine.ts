/**
 * `imhookd quarantine`: the requests kept raw because they failed their checks, and why.
 *
 * @module
 */
import { type CliOptions, EXIT, type OptionName } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { openReader } from "./_journal.ts";
import { formatTable, formatTime, print, printJson, wantsJson } from "./_output.ts";

/** The help of `quarantine`. */
export const help = `Usage: imhookd quarantine --config FILE [--json]

Lists the quarantined requests, newest first: authenticated requests whose body is not JSON or
breaks its command's schema, kept raw so that nothing Tencent sent is lost. Each with when it was
received, its app and command, why it was not accepted, its query (without Sign) and its body.
A table on a terminal (bodies cut), JSON otherwise or with --json (bodies whole).
Safe to run while serve runs.`;

/** The options of `quarantine`. */
export const options: readonly OptionName[] = ["config", "json"];

const BODY_CHARS = 60;

/** Prints the quarantined requests. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
  using journal = openReader(config);
  const requests = journal.quarantined();
  if (wantsJson(options.json)) {
    printJson(requests.map(({ body, ...request }) => ({
      ...request,
      receivedAt: new Date(request.receivedAt).toISOString(),
      ...bodyFields(body),
    })));
    return EXIT.ok;
  }
  if (requests.length === 0) {
    print("No quarantined requests.");
    return EXIT.ok;
  }
  const now = Date.now();
  print(formatTable(
    ["ID", "RECEIVED", "APP", "COMMAND", "BODY", "WHY"],
    requests.map((request) => {
      const text = new TextDecoder().decode(request.body).replace(/\s+/g, " ");
      return [
        String(request.id),
        formatTime(request.receivedAt, now),
        request.sdkAppId,
        request.command ?? "-",
        text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…` : text,
        request.reason,
      ];
    }),
  ));
  print(`\n${requests.length} quarantined request(s). "--json" prints the bodies whole.`);
  return EXIT.ok;
}

/** The body as text when it is UTF-8, else in base64. */
function bodyFields(body: Uint8Array): { body: string } | { bodyBase64: string } {
  try {
    return { body: new TextDecoder("utf-8", { fatal: true }).decode(body) };
  } catch {
    let binary = "";
    for (let i = 0; i < body.length; i += 8192) {
      binary += String.fromCharCode(...body.subarray(i, i + 8192));
    }
    return { bodyBase64: btoa(binary) };
  }
}
