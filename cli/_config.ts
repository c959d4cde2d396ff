/**
 * The config of a command that takes `--config FILE`, with logging set up as it says.
 *
 * @module
 */
import { type Config, ConfigError, type ConfigIssue, loadConfig } from "../core/config/config.ts";
import type { UsablePlugins } from "../core/config/config_error.ts";
import type { PluginEntry } from "../core/config/config.ts";
import { setupLogging } from "../core/ops/log.ts";

/** Options of {@linkcode commandConfig}. */
export interface CommandConfigOptions {
  /**
   * When the config is refused, load its plugin entries that are valid on their own (import,
   * `parseOptions`), so that their errors come with the config's in one list (`check`,
   * `serve`). Default false.
   */
  withPlugins?: boolean;
}

/** Loads and validates `file` and sets up logging from it; throws `ConfigError`. */
export async function commandConfig(
  file: string,
  options: CommandConfigOptions = {},
): Promise<Config> {
  let loaded: Config;
  try {
    loaded = await loadConfig(file);
  } catch (error) {
    if (options.withPlugins && error instanceof ConfigError && error.usable !== undefined) {
      throw await withPluginErrors(error, error.usable as UsablePlugins<PluginEntry>);
    }
    throw error;
  }
  setupLogging(loaded.log);
  return loaded;
}

/** `error` with the errors of its usable plugins added, all in file order. */
async function withPluginErrors(
  error: ConfigError,
  usable: UsablePlugins<PluginEntry>,
): Promise<ConfigError> {
  // Imported here: only a refused config loads plugins in this process.
  const { loadPlugins, PluginLoadError } = await import("../core/delivery/loader.ts");
  try {
    await loadPlugins(usable);
    return error;
  } catch (pluginError) {
    if (!(pluginError instanceof PluginLoadError)) throw pluginError;
    const issues = [...error.issues, ...pluginError.problems.map(issueOfLine)];
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    return new ConfigError(issues);
  }
}

/** A loader problem (`file:line:column message`) as an issue printed the same way. */
function issueOfLine(line: string): ConfigIssue {
  const match = /^(.*?):(\d+):(\d+) ([\s\S]*)$/.exec(line);
  if (match === null) return { file: "", line: 0, column: 0, path: "", message: line };
  return {
    file: match[1]!,
    line: Number(match[2]),
    column: Number(match[3]),
    path: "",
    message: match[4]!,
  };
}
