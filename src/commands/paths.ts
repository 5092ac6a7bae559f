import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import type { OptionsOf, pathsSpec } from './specs.js';

export async function pathsCommand(ctx: Context, options: OptionsOf<typeof pathsSpec>): Promise<number> {
  const p = ctx.paths;
  const entries: Array<[key: string, label: string, file: string]> = [
    ['poofConf', 'poof.conf', p.poofConf],
    ['rcloneConf', 'rclone-poof.conf', p.rcloneConf],
    ['schemaFile', 'schema', p.schemaFile],
    ['stateDir', 'state dir', p.stateDir],
    ['historyFile', 'history', p.historyFile],
    ['logFile', 'log', p.logFile],
    ['lockFile', 'lock', p.lockFile],
    ['defaultLocalRoot', 'local cloud (default root)', p.defaultLocalRoot],
    ['syncKeptDir', 'what sync replaced here', p.syncKeptDir],
  ];
  if (options.json) {
    const files = Object.fromEntries(entries.map(([key, , file]) => [key, file]));
    ctx.out(JSON.stringify({ configDir: p.configDir, configDirSource: p.configDirSource, ...files }, null, 2));
    return ExitCode.ok;
  }
  const source = { flag: '--confdir', env: 'POOF_CONFIG_DIR', default: 'platform default' }[p.configDirSource];
  ctx.out(`config dir = ${p.configDir} (${source})`);
  for (const [, label, file] of entries) ctx.out(`${label} = ${file}`);
  return ExitCode.ok;
}
