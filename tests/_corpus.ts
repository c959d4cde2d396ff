/**
 * Tencent's documented examples (`tests/fixtures/tencent/`, see its README.md), ready to
 * send: the query with the placeholders filled in, and the body as text.
 *
 * @module
 */

const DIR = new URL("./fixtures/tencent/", import.meta.url);

/** One example of a command's page. */
export interface Example {
  /** The fixture's file name, e.g. `Group.CallbackAfterSendMsg.2.json`. */
  file: string;
  command: string;
  /** The fixture's `source`: the page(s), language and revision. */
  source: string;
  /** The first page address of `source`. */
  page: string;
  /** The URL parameters as the page shows them (placeholders such as `$SDKAppID` kept). */
  query: Record<string, string>;
  /** The body to send: the example, or its repaired version when the page's is broken. */
  body: string;
  /** The page's text when it is not JSON (a typo in the docs); else undefined. */
  invalidText: string | undefined;
}

/** Every example, in file order; `index.json` is not one. */
export async function corpus(): Promise<Example[]> {
  const examples: Example[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.name.endsWith(".json") || entry.name === "index.json") continue;
    const fixture = JSON.parse(await Deno.readTextFile(new URL(entry.name, DIR)));
    examples.push({
      file: entry.name,
      command: fixture.command,
      source: fixture.source,
      page: /https?:\/\/[^\s,;)]+/.exec(fixture.source)?.[0] ?? fixture.source,
      query: fixture.query,
      body: JSON.stringify(fixture.body ?? fixture.repaired_body),
      invalidText: fixture.body === undefined ? fixture.body_text : undefined,
    });
  }
  return examples.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * The example's query with its placeholders filled in: our app for `SdkAppid` (whatever the
 * page says), `127.0.0.1` for `$ClientIP`, `RESTAPI` for `$OptPlatform`; then `extra` (the
 * signature) appended.
 */
export function exampleQuery(
  example: Example,
  app: string,
  extra: Record<string, string> = {},
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(example.query)) {
    if (name === "SdkAppid") params.set(name, app);
    else if (value === "$ClientIP") params.set(name, "127.0.0.1");
    else if (value === "$OptPlatform") params.set(name, "RESTAPI");
    else params.set(name, value);
  }
  for (const [name, value] of Object.entries(extra)) params.set(name, value);
  return params.toString();
}
