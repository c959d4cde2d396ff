import assert from "node:assert/strict";
import {
  type CallbackServer,
  type ConnectionLimits,
  denoServeOnConnection,
  type RequestHandler,
  serveCallbacks,
} from "./connections.ts";

const OK = () => Promise.resolve(new Response("ok"));
const LONG = 600_000;

async function withServer(
  limits: Partial<ConnectionLimits>,
  fn: (server: CallbackServer, errors: unknown[]) => Promise<void>,
  handler: RequestHandler = async (request) => {
    await request.arrayBuffer();
    return await OK();
  },
): Promise<void> {
  const errors: unknown[] = [];
  const server = await serveCallbacks({
    hostname: "127.0.0.1",
    port: 0,
    limits: { maxConnections: 64, headerTimeoutMs: LONG, idleTimeoutMs: LONG, ...limits },
    handler,
    onError: (error) => errors.push(error),
  });
  try {
    await fn(server, errors);
  } finally {
    await server.shutdown(1_000);
  }
}

function connect(server: CallbackServer): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
}

/** Resolves true once the server closed `conn` (EOF or reset), false if still open at `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buffer = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  const closed = (async () => {
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return true as const;
    }
  })();
  try {
    return await Promise.race([closed, open]);
  } finally {
    clearTimeout(timer);
  }
}

async function eventually(probe: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function post(server: CallbackServer): Promise<Response> {
  return await fetch(`http://127.0.0.1:${server.addr.port}/im/callback`, {
    method: "POST",
    body: "{}",
  });
}

Deno.test("connections: this Deno serves a connection of our own accept loop", () => {
  // Without it the listener falls back to Deno.serve, without any of the limits below.
  assert.equal(typeof denoServeOnConnection(), "function");
});

Deno.test("connections: beyond the cap a new connection takes an idle one's place", async () => {
  await withServer({ maxConnections: 8 }, async (server) => {
    const idle = await Promise.all(Array.from({ length: 20 }, () => connect(server)));
    let closed = 0;
    for (const conn of idle) closedWithin(conn, LONG).then((yes) => yes && closed++);
    try {
      // The twelve beyond the cap took the place of the oldest ones, which were closed.
      await eventually(() => closed === 12 && server.connections === 8, "the cap is kept");
      const answer = await post(server);
      assert.equal(answer.status, 200);
      assert.equal(await answer.text(), "ok");
      assert.ok(server.connections <= 8, `${server.connections} connections open`);
      await eventually(() => closed === 13, "the callback's connection took an idle one's place");
    } finally {
      for (const conn of idle) conn.close();
    }
  });
});

Deno.test("connections: at the cap with every connection busy, a new one is closed at once", async () => {
  const release = Promise.withResolvers<void>();
  let started = 0;
  await withServer({ maxConnections: 2 }, async (server) => {
    const busy = [post(server), post(server)];
    await eventually(() => started === 2, "two requests are under way");
    const extra = await connect(server);
    try {
      assert.equal(await closedWithin(extra, 10_000), true);
    } finally {
      extra.close();
    }
    release.resolve();
    for (const answer of await Promise.all(busy)) {
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
    }
  }, async (request) => {
    started++;
    await request.arrayBuffer();
    await release.promise;
    return await OK();
  });
});

Deno.test("connections: silent, half-sent and idle kept-alive connections are closed in time", async () => {
  await withServer({ headerTimeoutMs: 200, idleTimeoutMs: 300 }, async (server) => {
    const silent = await connect(server);
    const half = await connect(server);
    const kept = await connect(server);
    try {
      await half.write(new TextEncoder().encode("POST /im/callback HTTP/1.1\r\nHost: x\r\n"));
      await kept.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      assert.deepEqual(
        await Promise.all([silent, half, kept].map((conn) => closedWithin(conn, 10_000))),
        [true, true, true],
      );
      await eventually(() => server.connections === 0, "no connection is left open");
    } finally {
      for (const conn of [silent, half, kept]) conn.close();
    }
  });
});

Deno.test("connections: a request under way is never cut by the time limits", async () => {
  const slow: RequestHandler = async (request) => {
    await request.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 600));
    return await OK();
  };
  await withServer({ headerTimeoutMs: 100, idleTimeoutMs: 100 }, async (server) => {
    const answer = await post(server);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "ok");
  }, slow);
});

Deno.test("connections: a handler that throws is answered 500 and reported", async () => {
  await withServer({}, async (server, errors) => {
    const answer = await post(server);
    assert.equal(answer.status, 500);
    assert.deepEqual(await answer.json(), {
      ActionStatus: "FAIL",
      ErrorCode: 500,
      ErrorInfo: "Internal error",
    });
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, "handler broke");
  }, () => Promise.reject(new RangeError("handler broke")));
});

Deno.test("connections: shutdown lets the request under way finish", async () => {
  const release = Promise.withResolvers<void>();
  let started = false;
  const errors: unknown[] = [];
  const server = await serveCallbacks({
    hostname: "127.0.0.1",
    port: 0,
    limits: { maxConnections: 8, headerTimeoutMs: LONG, idleTimeoutMs: LONG },
    handler: async (request) => {
      started = true;
      await request.arrayBuffer();
      await release.promise;
      return await OK();
    },
    onError: (error) => errors.push(error),
  });
  const answer = post(server);
  await eventually(() => started, "the request is under way");
  const stopping = server.shutdown(10_000);
  setTimeout(() => release.resolve(), 50);
  assert.equal((await answer).status, 200);
  await (await answer).body?.cancel();
  await stopping;
  await assert.rejects(() => post(server), TypeError);
  assert.deepEqual(errors, []);
});
