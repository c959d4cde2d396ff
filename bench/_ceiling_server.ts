/**
 * The ceiling of the load benchmark: a bare `Deno.serve` on 127.0.0.1 port 0 that reads each
 * request's body and answers imhookd's OK JSON, doing nothing else. Prints its URL on stdout.
 * With an argument, each answer waits that many milliseconds (a timer, nothing else): the
 * generator's own share of the latency of answers that wait for a deadline.
 *
 * Run: `deno run --allow-net bench/_ceiling_server.ts [DELAY_MS]`
 *
 * @module
 */
const OK_BODY = JSON.stringify({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
const HEADERS = { "content-type": "application/json; charset=utf-8" };
const DELAY_MS = Number(Deno.args[0] ?? 0);

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) => {
    // deno-lint-ignore no-console
    console.log(`Listening on http://${hostname}:${port}/im/callback`);
  },
}, async (request) => {
  await request.arrayBuffer();
  if (DELAY_MS > 0) await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  return new Response(OK_BODY, { headers: HEADERS });
});
