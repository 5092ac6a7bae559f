import type { Context } from '../context.js';
import { loadConfig, writeConfig } from '../config/store.js';
import { cryptPair } from '../crypt/layout.js';
import { ConfigError, ExitCode, UsageError } from '../errors.js';
import { buildSizeArgs } from '../rclone/args.js';
import { readRcloneConf } from '../rclone/conf-file.js';
import { findSection } from '../rclone/ini.js';
import { remotePathFor } from '../rclone/remote-path.js';
import type { Rclone } from '../rclone/runner.js';
import { parseSize } from '../restore/inspect.js';
import type { OptionsOf, cryptoggleSpec } from './specs.js';

/**
 * Switch poof.conf between the plain remote and its crypt wrapper, as the original poof did by
 * hand. The two are separate trees: nothing is moved, copied or deleted.
 */
export async function cryptoggleCommand(ctx: Context, options: OptionsOf<typeof cryptoggleSpec>): Promise<number> {
  const { config } = await loadConfig(ctx.paths);
  const parsed = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  if (parsed.text === undefined) throw new ConfigError(`rclone-poof.conf not found at ${ctx.paths.rcloneConf}`, 'run `poof cconfig`');
  const pair = cryptPair(parsed, config.remote);
  if (!pair.crypt) {
    throw new UsageError(`no crypt remote wraps [${pair.plain}] in ${ctx.paths.rcloneConf}`, 'create one with `poof cconfig --crypt`');
  }
  const toCrypt = config.remote !== pair.crypt;
  const target = toCrypt ? pair.crypt : pair.plain;
  if (!options.offline) {
    const rclone = await ctx.locateRclone({ cacheVersion: true });
    const count = (remote: string) => countFiles(rclone, ctx.paths.rcloneConf, { ...config, remote }, findSection(parsed, remote));
    const [here, there] = await Promise.all([count(config.remote), count(target)]);
    if (here !== undefined && there !== undefined && here > 0 && there === 0) {
      ctx.err(
        `poof: [${target}] holds no copy yet while [${config.remote}] holds ${here} files: the ${toCrypt ? 'encrypted' : 'plain'} and ${toCrypt ? 'plain' : 'encrypted'} copies are separate trees. The next backup uploads everything again into [${target}]; the copy in [${config.remote}] stays as it is (nothing is moved or deleted).`,
      );
    }
  }
  await writeConfig(ctx.paths, { ...config, remote: target });
  ctx.out(toCrypt ? `encryption on: poof.conf now uses [${target}] (crypt over ${pair.plain})` : `encryption off: poof.conf now uses [${target}] (names and contents stored as they are)`);
  return ExitCode.ok;
}

/** Files under every mapping on one side; undefined when it cannot be listed. */
async function countFiles(
  rclone: Rclone,
  configFile: string,
  config: { remote: string; bucket: string; paths: Record<string, string> },
  section: ReturnType<typeof findSection>,
): Promise<number | undefined> {
  let total = 0;
  for (const name of Object.values(config.paths)) {
    const result = await rclone.run(buildSizeArgs(configFile, remotePathFor(config, section, name)), { timeoutMs: 120_000 });
    if (result.exitCode === 3) continue;
    const size = result.exitCode === 0 ? parseSize(result.stdout) : undefined;
    if (!size) return undefined;
    total += size.count;
  }
  return total;
}
