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

/** A config that cannot be used; `issues` lists every problem found, in file order. */
export class ConfigError extends SyntaxError {
  /** Every problem found, in file order. */
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "ConfigError";
    this.issues = issues;
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
