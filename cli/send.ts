/**
 * `imhookd send`: POSTs a signed callback (a built-in sample or a file) to the server.
 *
 * @module
 */
import { formatAddr } from "../core/daemon.ts";
import { computeSign } from "../core/listener/verify.ts";
import { sampleBody } from "../core/protocol/samples.ts";
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { print } from "./_output.ts";

/** The help of `send`. */
export const help = `Usage: imhookd send --config FILE --command CMD [--body FILE] [--url URL]

Builds a callback signed with the config's first app and token and POSTs it.
  --command CMD   the CallbackCommand, e.g. Group.CallbackAfterSendMsg
  --body FILE     the JSON body to send as is (default: a built-in sample for CMD, EventTime now)
  --url URL       where to send it (default: the configured listener and path)
Exit 0 only when the answer's ActionStatus is OK.`;

/** The options of `send`. */
export const options: readonly OptionName[] = ["config", "command", "body", "url"];

/** Sends one callback and prints the answer; exit 0 only when Tencent would see OK. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
  const command = options.command;
  if (command === undefined) throw new UsageError(`"send" needs --command CMD`);
  let body: string;
  if (options.body !== undefined) {
    body = await Deno.readTextFile(options.body);
  } else {
    const sample = sampleBody(command, Date.now());
    if (sample === undefined) {
      throw new UsageError(
        `There is no built-in sample for "${command}"; give one with --body FILE`,
      );
    }
    body = JSON.stringify(sample);
  }
  let url: URL;
  if (options.url !== undefined) {
    url = new URL(options.url);
  } else {
    const { hostname, port } = config.server.listen;
    if (port === 0) {
      throw new UsageError("The config listens on port 0: give the address with --url");
    }
    const host = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
    url = new URL(
      `${config.server.tls ? "https" : "http"}://${
        formatAddr({ transport: "tcp", hostname: host, port })
      }${config.server.path}`,
    );
  }
  const app = config.apps[0]!;
  url.searchParams.set("SdkAppid", app.sdkAppId);
  url.searchParams.set("CallbackCommand", command);
  url.searchParams.set("contenttype", "json");
  url.searchParams.set("ClientIP", "127.0.0.1");
  url.searchParams.set("OptPlatform", "RESTAPI");
  if (app.token) {
    const requestTime = String(Math.floor(Date.now() / 1000));
    url.searchParams.set("RequestTime", requestTime);
    url.searchParams.set("Sign", computeSign(app.token, requestTime));
  }
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  print(`${response.status} ${text}`);
  try {
    return JSON.parse(text).ActionStatus === "OK" ? EXIT.ok : EXIT.failure;
  } catch {
    return EXIT.failure;
  }
}
