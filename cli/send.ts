/**
 * `imhookd send`: POSTs a signed callback (a built-in sample or a body) to the server.
 *
 * @module
 */
import { formatAddr } from "../core/daemon.ts";
import { computeSign } from "../core/listener/verify.ts";
import { callbackBody } from "./_body.ts";
import { type CliOptions, EXIT, type OptionName, UsageError } from "./_command.ts";
import { commandConfig } from "./_config.ts";
import { print, printError } from "./_output.ts";

/** The help of `send`. */
export const help =
  `Usage: imhookd send --config FILE [--command CMD] [--body FILE|-] [--set KEY=VALUE]...
                    [--url URL]

Builds a callback signed with the config's first app and token, POSTs it and prints the status
and Tencent's whole answer (a decision's included).
  --command CMD      the CallbackCommand, e.g. Group.CallbackAfterSendMsg (default: the body's)
  --body FILE        the JSON body to send as is; - reads it from stdin (default: a built-in
                     sample for CMD, numbered afresh: a new MsgSeq/MsgKey, EventTime and MsgTime now)
  --set KEY=VALUE    sets a field of the body (A.B.0.C for nested ones); VALUE is read as JSON,
                     else taken as a string; repeatable
  --url URL          where to send it (default: the configured listener and path)
Exit 0 only when the answer's ActionStatus is OK.`;

/** The options of `send`. */
export const options: readonly OptionName[] = ["config", "command", "body", "set", "url"];

/** Sends one callback and prints the answer; exit 0 only when Tencent would see OK. */
export async function run(options: CliOptions): Promise<number> {
  const config = await commandConfig(options.config!);
  const { command, text: body } = await callbackBody(options);
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
  printError(`Sent ${command} to ${url.origin}${url.pathname}`);
  print(`${response.status} ${text}`);
  try {
    return JSON.parse(text).ActionStatus === "OK" ? EXIT.ok : EXIT.failure;
  } catch {
    return EXIT.failure;
  }
}
