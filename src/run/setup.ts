import type { Context } from '../context.js';
import { loadRemoteSections, type RemoteSections } from '../rclone/conf-file.js';
import type { PoofConfig } from '../config/schema.js';
import { loadConfig } from '../config/store.js';
import { ConfigError, UsageError } from '../errors.js';

export interface RunSetup extends RemoteSections {
  config: PoofConfig;
  /** Every mapping's remote name. */
  names: string[];
}

/** What backup, upload and download start from: both configs, and --only checked against them. */
export async function loadRunSetup(ctx: Context, only: string[] | undefined): Promise<RunSetup> {
  const { config } = await loadConfig(ctx.paths);
  const sections = await loadRemoteSections(ctx.paths, config, ctx);
  const names = Object.values(config.paths);
  // A schedule must not report success forever while nothing is backed up.
  if (names.length === 0) throw new ConfigError(`${ctx.paths.poofConf} maps no directories`, 'add one with `poof config --map DIR=NAME --force`');
  for (const name of only ?? []) {
    if (!names.includes(name)) throw new UsageError(`--only "${name}" is not a mapping`, `use one of: ${names.join(', ')}`);
  }
  return { config, ...sections, names };
}
