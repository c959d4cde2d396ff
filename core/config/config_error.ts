/**
 * The error a config is refused with: every problem found, each with its file, line, column
 * and key path; and how those messages are written.
 *
 * @module
 */

/** One problem found in a config file. */
export interface ConfigIssue {
  file: string;
  line: number;
  column: number;
  /** Key path such as `plugins[1].on`; `""` for the whole file. */
  path: string;
  message: string;
}

/**
 * The plugin entries of a refused config that are valid on their own, with what loading them
 * needs (the config's folder, and where each key is): `check` loads them too, so that their
 * errors come in the same run as the config's.
 */
export interface UsablePlugins<E> {
  dir: string;
  plugins: E[];
  locate(path: readonly (string | number)[]): string;
}

/** A config that cannot be used; `issues` lists every problem found, in file order. */
export class ConfigError extends SyntaxError {
  /** Every problem found, in file order. */
  readonly issues: ConfigIssue[];
  /** The plugin entries that are valid on their own, when the file could be read as YAML. */
  readonly usable: UsablePlugins<unknown> | undefined;

  constructor(issues: ConfigIssue[], usable?: UsablePlugins<unknown>) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
    this.usable = usable;
  }
}

function formatIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return issue.path === ""
    ? `${where} ${issue.message}`
    : `${where} ${issue.path}: ${issue.message}`;
}

/** A key path as messages show it: `plugins[1].on`, `apps[0]["odd key"]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** The message of a caught error, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** `message` with every secret in `secrets` replaced by `***`. */
export function redact(message: string, secrets: ReadonlySet<string>): string {
  for (const secret of secrets) message = message.replaceAll(secret, "***");
  return message;
}
