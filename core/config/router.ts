/**
 * Routing of callbacks to plugins by their `on` patterns.
 *
 * @module
 */
import { matchesPattern } from "./patterns.ts";

/** A plugin and the command patterns it subscribes to. */
export interface Route {
  name: string;
  on: readonly string[];
}

const CACHE_LIMIT = 1024;

/** Answers which plugins a command goes to. */
export class Router {
  readonly routes: readonly Route[];
  #cache = new Map<string, readonly string[]>();

  constructor(routes: readonly Route[]) {
    this.routes = routes;
  }

  /** The names of the plugins subscribed to `command`, in config order. */
  match(command: string): readonly string[] {
    let names = this.#cache.get(command);
    if (names === undefined) {
      names = this.routes
        .filter((route) => route.on.some((pattern) => matchesPattern(pattern, command)))
        .map((route) => route.name);
      // Commands come from authenticated requests, but keep the cache bounded anyway.
      if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
      this.#cache.set(command, names);
    }
    return names;
  }

  /** The routing table: each pattern and the plugins it reaches, in config order. */
  table(): { pattern: string; plugins: string[] }[] {
    const rows = new Map<string, string[]>();
    for (const route of this.routes) {
      for (const pattern of route.on) {
        const plugins = rows.get(pattern) ?? [];
        plugins.push(route.name);
        rows.set(pattern, plugins);
      }
    }
    return [...rows].map(([pattern, plugins]) => ({ pattern, plugins }));
  }
}
