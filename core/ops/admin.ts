/**
 * The admin listener's handler: `/healthz`, `/readyz`, `/metrics`, and the status page (`/`,
 * drawn from `/status.json`). It is served on `admin.listen` only, never on the callback
 * listener.
 *
 * @module
 */
import type { JournalStatus, JournalWriter } from "../journal/mod.ts";
import type { Metrics } from "./metrics.ts";
import type { StatusBoard } from "./status.ts";
import { STATUS_PAGE } from "./status_page.ts";

/** What the admin handler reads. */
export interface AdminDeps {
  journal: JournalWriter;
  metrics: Metrics;
  /** The plugins being delivered to, for the pending and dead-letter gauges. */
  plugins(): readonly string[];
  /** Reasons the daemon is not ready besides the journal (plugins that failed to start, shutdown). */
  problems(): readonly string[];
  /** The status page's figures; without it, `/` and `/status.json` are not served. */
  status?: StatusBoard;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

/** Builds the admin listener's `Deno.serve` handler. */
export function adminHandler(deps: AdminDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { ...TEXT, allow: "GET, HEAD" },
      });
    }
    if (pathname === "/healthz") return new Response("ok\n", { headers: TEXT });
    if (pathname === "/readyz") return await readiness(deps);
    if (pathname === "/metrics") {
      refreshGauges(deps);
      return new Response(deps.metrics.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (deps.status !== undefined) {
      if (pathname === "/") {
        return new Response(STATUS_PAGE, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            // Inline style and script only; nothing is fetched from elsewhere.
            "content-security-policy":
              "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
          },
        });
      }
      if (pathname === "/status.json") {
        return Response.json(deps.status.snapshot(refreshGauges(deps)), {
          headers: { "cache-control": "no-store" },
        });
      }
    }
    const paths = deps.status !== undefined
      ? "/ /status.json /healthz /readyz /metrics"
      : "/healthz /readyz /metrics";
    return new Response(`Not found: ${paths}\n`, { status: 404, headers: TEXT });
  };
}

async function readiness(deps: AdminDeps): Promise<Response> {
  const reasons = [...deps.problems()];
  try {
    await deps.journal.probe();
  } catch (error) {
    reasons.unshift(
      `journal ${deps.journal.path} is not writable: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  if (reasons.length === 0) return new Response("ready\n", { headers: TEXT });
  return new Response(`not ready:\n${reasons.map((r) => `- ${r}\n`).join("")}`, {
    status: 503,
    headers: TEXT,
  });
}

/** Sets the journal's gauges from its counts, and returns them (undefined if unreadable). */
function refreshGauges(deps: AdminDeps): JournalStatus | undefined {
  try {
    const status = deps.journal.status();
    for (const name of deps.plugins()) {
      const counts = status.plugins.find((p) => p.plugin === name);
      deps.metrics.pending.set({ plugin: name }, counts?.pending ?? 0);
      deps.metrics.deadLetters.set({ plugin: name }, counts?.dead ?? 0);
    }
    deps.metrics.inboxBacklog.set({}, status.inbox.records);
    return status;
  } catch {
    // A locked or closing journal leaves the gauges at their last values; /readyz says why.
    return undefined;
  }
}
