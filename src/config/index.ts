export { ConfigError, checkConfig, loadConfig, MEMORY_DATA_DIR, redactedConfig } from './load.ts';
export type { Config } from './settings.ts';
export { DEFAULTS, SETTINGS } from './settings.ts';
