/**
 * A headless Chromium driven over the DevTools protocol (Deno's own WebSocket, nothing
 * downloaded): opens a page, evaluates expressions in it, takes screenshots, and collects the
 * page's uncaught exceptions. Needs Debian's `chromium` (`.ci/run` installs it).
 *
 * @module
 */

/** A page open in Chromium. */
export interface ChromiumPage extends AsyncDisposable {
  /** Evaluates `expression` in the page (awaiting a promise) and returns its JSON value. */
  evaluate<T>(expression: string): Promise<T>;
  /** A PNG of the page as it is drawn now, `width` × `height` CSS pixels. */
  screenshot(width: number, height: number): Promise<Uint8Array>;
  /** The page's uncaught exceptions and console errors so far. */
  errors: string[];
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--remote-debugging-port=0",
];

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/**
 * Starts Chromium and opens `url` in it. Throws (never skips) when `chromium` is missing: the
 * test that needs it must fail, since CI installs it.
 */
export async function openPage(url: string): Promise<ChromiumPage> {
  const profile = await Deno.makeTempDir({ prefix: "imhookd-chromium-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("chromium", {
      args: [...FLAGS, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    await Deno.remove(profile, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error("chromium is not installed: apt-get install chromium (.ci/run does)");
    }
    throw error;
  }
  const stderr: string[] = [];
  const endpoint = Promise.withResolvers<string>();
  const reading = (async () => {
    let buffer = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      stderr.push(chunk);
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(buffer);
      if (match) endpoint.resolve(match[1]!);
    }
    endpoint.reject(new Error(`chromium exited before listening:\n${stderr.join("")}`));
  })();
  const stop = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await reading;
    await Deno.remove(profile, { recursive: true });
  };

  let socket: WebSocket;
  try {
    socket = new WebSocket(await endpoint.promise);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = () => reject(new Error("cannot connect to chromium's DevTools socket"));
    });
  } catch (error) {
    await stop();
    throw error;
  }
  const closed = new Promise<void>((resolve) => socket.onclose = () => resolve());
  const waiting = new Map<number, PromiseWithResolvers<Record<string, unknown>>>();
  const errors: string[] = [];
  let next = 0;
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data) as Message;
    if (message.id !== undefined) {
      const waiter = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) waiter?.reject(new Error(`DevTools: ${message.error.message}`));
      else waiter?.resolve(message.result ?? {});
    } else if (message.method === "Runtime.exceptionThrown") {
      errors.push(JSON.stringify(message.params?.exceptionDetails));
    } else if (
      message.method === "Runtime.consoleAPICalled" && message.params?.type === "error"
    ) {
      errors.push(JSON.stringify(message.params.args));
    }
  };
  const send = (
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> => {
    const id = ++next;
    const waiter = Promise.withResolvers<Record<string, unknown>>();
    waiting.set(id, waiter);
    socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return waiter.promise;
  };

  const dispose = async (): Promise<void> => {
    socket.close();
    await closed;
    await stop();
  };
  try {
    const { targetId } = await send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true }) as {
      sessionId: string;
    };
    await send("Runtime.enable", {}, sessionId);
    await send("Page.enable", {}, sessionId);
    await send("Page.navigate", { url }, sessionId);
    return {
      errors,
      async evaluate<T>(expression: string): Promise<T> {
        const { result, exceptionDetails } = await send("Runtime.evaluate", {
          expression,
          awaitPromise: true,
          returnByValue: true,
        }, sessionId) as { result: { value: T }; exceptionDetails?: unknown };
        if (exceptionDetails !== undefined) {
          throw new Error(`Evaluating ${expression}: ${JSON.stringify(exceptionDetails)}`);
        }
        return result.value;
      },
      async screenshot(width, height) {
        await send("Emulation.setDeviceMetricsOverride", {
          width,
          height,
          deviceScaleFactor: 1,
          mobile: false,
        }, sessionId);
        const { data } = await send("Page.captureScreenshot", { format: "png" }, sessionId) as {
          data: string;
        };
        return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      },
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}
