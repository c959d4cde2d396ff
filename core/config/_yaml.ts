/**
 * The YAML document of a config turned into plain values: `${VAR}`, `${VAR:-default}` and
 * `${file:PATH}` substituted in string scalars (secrets remembered so that messages never show
 * them), and the position of the node at a key path, for messages.
 *
 * @module
 */
import { resolve } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parse as parseYaml,
  Scalar,
} from "yaml";
import { errorMessage } from "./config_error.ts";

/**
 * Scalars the config reads as text: an entirely-substituted value there stays a string
 * (a digit-only token must not become a number); elsewhere it is re-read as a YAML scalar.
 */
const TEXT_PATHS = new Set([
  "server.listen",
  "server.path",
  "server.tls.cert_file",
  "server.tls.key_file",
  "admin.listen",
  "apps.#.token",
  "journal.path",
  "plugins.#.name",
  "plugins.#.use",
  "plugins.#.on.#",
  ...["net", "read", "write", "env", "run", "ffi", "sys"].map((name) =>
    `plugins.#.permissions.${name}.#`
  ),
]);

const SECRET_PATHS = new Set(["apps.#.token"]);

const MAX_ALIASES = 1000;

/** Options of {@linkcode Converter}. */
export interface ConverterOptions {
  env: Record<string, string | undefined>;
  dir: string;
  onError(node: Node, path: (string | number)[], message: string): void;
}

/** Turns the YAML document into plain values, substituting `${...}` in string scalars. */
export class Converter {
  /** Text that must never appear in a message: file contents and tokens. */
  readonly secrets: Set<string> = new Set();
  #doc: Document;
  #options: ConverterOptions;
  #aliases = 0;

  constructor(doc: Document, options: ConverterOptions) {
    this.#doc = doc;
    this.#options = options;
  }

  /** The document's plain value (`onError` told of each reference that cannot be read). */
  convert(): unknown {
    return this.#value(this.#doc.contents, []);
  }

  #value(node: unknown, path: (string | number)[]): unknown {
    if (isAlias(node)) {
      if (++this.#aliases > MAX_ALIASES) {
        this.#options.onError(node, path, `more than ${MAX_ALIASES} aliases`);
        return null;
      }
      return this.#value(node.resolve(this.#doc), path);
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        // defineProperty: a "__proto__" key must stay a plain key
        Object.defineProperty(out, key, {
          value: this.#value(pair.value, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => this.#value(item, [...path, i]));
    if (isScalar(node)) {
      return typeof node.value === "string" ? this.#string(node, node.value, path) : node.value;
    }
    return null;
  }

  #string(node: Scalar, source: string, path: (string | number)[]): unknown {
    const pattern = path.map((key) => typeof key === "number" ? "#" : key).join(".");
    let text = source;
    if (source.includes("${")) {
      try {
        text = this.#interpolate(source);
      } catch (error) {
        this.#options.onError(node, path, errorMessage(error));
        return source;
      }
    }
    if (SECRET_PATHS.has(pattern) && text !== "") this.secrets.add(text);
    const whole = source.startsWith("${") && closingBrace(source, 2) === source.length - 1;
    if (whole && node.type === Scalar.PLAIN && !TEXT_PATHS.has(pattern)) return retype(text);
    return text;
  }

  #interpolate(source: string): string {
    let out = "";
    let i = 0;
    while (i < source.length) {
      if (source.startsWith("$${", i)) {
        out += "${";
        i += 3;
      } else if (source.startsWith("${", i)) {
        const end = closingBrace(source, i + 2);
        if (end < 0) {
          throw new SyntaxError(`unterminated "\${" at character ${i + 1}: missing "}"`);
        }
        out += this.#reference(source.slice(i + 2, end));
        i = end + 1;
      } else {
        out += source[i];
        i += 1;
      }
    }
    return out;
  }

  #reference(body: string): string {
    if (body.startsWith("file:")) {
      const file = resolve(this.#options.dir, this.#interpolate(body.slice(5)));
      let content: string;
      try {
        content = Deno.readTextFileSync(file);
      } catch (error) {
        throw new RangeError(`cannot read "${file}" for \${file:...}: ${errorMessage(error)}`);
      }
      content = content.replace(/\r?\n$/, "");
      if (content !== "") this.secrets.add(content);
      return content;
    }
    const match = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/.exec(body);
    if (!match) {
      throw new SyntaxError(
        `invalid reference "\${${body}}": expected \${VAR}, \${VAR:-default} or \${file:PATH}`,
      );
    }
    const [, name, fallback] = match as unknown as [string, string, string | undefined];
    const value = this.#options.env[name];
    if (value !== undefined && (fallback === undefined || value !== "")) return value;
    if (fallback !== undefined) return this.#interpolate(fallback);
    throw new RangeError(
      `environment variable "${name}" is not set (write \${${name}:-default} to give a default)`,
    );
  }
}

/** Index of the `}` closing a `${` whose body starts at `from`, or -1. */
function closingBrace(source: string, from: number): number {
  let depth = 0;
  for (let i = from; i < source.length; i++) {
    if (source.startsWith("$${", i)) {
      i += 2;
    } else if (source.startsWith("${", i)) {
      depth += 1;
      i += 1;
    } else if (source[i] === "}") {
      if (depth === 0) return i;
      depth -= 1;
    }
  }
  return -1;
}

/** Re-reads substituted text as a plain YAML scalar: numbers, booleans and null get typed. */
function retype(text: string): unknown {
  if (/^(?:null|Null|NULL|~|)$/.test(text.trim())) return null;
  try {
    const value = parseYaml(text, { logLevel: "silent" });
    if (typeof value === "number" || typeof value === "boolean") return value;
  } catch {
    // not a scalar YAML accepts: keep the text
  }
  return text;
}

/** Offset of the node (a map key for map entries) at `path`, or its nearest ancestor. */
export function findOffset(doc: Document, path: readonly (string | number)[]): number {
  let node: unknown = doc.contents;
  let offset = 0;
  let aliases = 0;
  if (isNodeWithRange(node)) offset = node.range[0];
  for (const key of path) {
    while (isAlias(node) && aliases++ < MAX_ALIASES) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) =>
        isScalar(item.key) ? String(item.key.value) === String(key) : false
      );
      if (!pair) break;
      if (isNodeWithRange(pair.key)) offset = pair.key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof key === "number") {
      const item = node.items[key];
      if (item === undefined) break;
      if (isNodeWithRange(item)) offset = item.range[0];
      node = item;
    } else {
      break;
    }
  }
  return offset;
}

function isNodeWithRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === "object" && node !== null && "range" in node &&
    Array.isArray((node as { range: unknown }).range);
}
