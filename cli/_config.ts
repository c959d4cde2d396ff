/**
 * The config of a command that takes `--config FILE`, with logging set up as it says.
 *
 * @module
 */
import { type Config, loadConfig } from "../core/config/config.ts";
import { setupLogging } from "../core/ops/log.ts";

/** Loads and validates `file` and sets up logging from it; throws `ConfigError`. */
export async function commandConfig(file: string): Promise<Config> {
  const loaded = await loadConfig(file);
  setupLogging(loaded.log);
  return loaded;
}
