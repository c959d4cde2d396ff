/**
 * The ceiling of the load benchmark: a bare `Deno.serve` on 127.0.0.1 port 0 that reads each
 * request's body and answers imhookd's OK JSON, doing nothing else. Prints its URL on stdout.
 *
 * Run: `deno run --allow-net bench/_ceiling_server.ts`
 *
 * @module
 */
const OK_BODY = JSON.stringify({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" });
const HEADERS = { "content-type": "application/json; charset=utf-8" };

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) => {
    // deno-lint-ignore no-console
    console.log(`Listening on http://${hostname}:${port}/im/callback`);
  },
}, async (request) => {
  await request.arrayBuffer();
  return new Response(OK_BODY, { headers: HEADERS });
});
