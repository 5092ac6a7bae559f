import { readFile, stat } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { serializeConfig } from './defaults.js';
import type { PoofPaths } from './paths.js';
import { poofConfigSchema, type PoofConfig } from './schema.js';
import { formatIssue, parseConfigText, validateConfig, type ConfigIssue } from './validate.js';

export interface LoadedConfig {
  config: PoofConfig;
  warnings: ConfigIssue[];
}

export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function fileMode(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mode & 0o777;
  } catch {
    return undefined;
  }
}

/** Pure: check poof.conf text, returning the config or every issue found. */
export function checkConfigText(text: string): { config?: PoofConfig; errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const parsed = parseConfigText(text);
  if (parsed.errors.length > 0) return { errors: parsed.errors, warnings: [] };
  return validateConfig(parsed.data);
}

/** Load and validate poof.conf; a missing or invalid file is a ConfigError listing every issue. */
export async function loadConfig(paths: PoofPaths): Promise<LoadedConfig> {
  const text = await readTextIfExists(paths.poofConf);
  if (text === undefined) {
    throw new ConfigError(`poof.conf not found at ${paths.poofConf}`, 'run `poof config` to create it');
  }
  const { config, errors, warnings } = checkConfigText(text);
  if (!config) {
    const lines = errors.map((issue) => formatIssue(issue, paths.poofConf));
    throw new ConfigError(lines[0] ?? `${paths.poofConf} is invalid`, undefined, lines.slice(1));
  }
  return { config, warnings };
}

/** Write poof.conf atomically (0600) in a private config dir, with the schema beside it. */
export async function writeConfig(paths: PoofPaths, config: PoofConfig): Promise<string> {
  await ensurePrivateDir(paths.configDir);
  await writeFileAtomic(paths.schemaFile, `${JSON.stringify(poofConfigSchema, null, 2)}\n`, 0o644);
  const text = serializeConfig({ ...config, confFile: paths.poofConf }, './poof.schema.json');
  await writeFileAtomic(paths.poofConf, text);
  return text;
}
