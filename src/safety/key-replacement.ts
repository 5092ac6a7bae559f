import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { proveCryptKey, type KeyProof } from '../crypt/key-proof.js';
import { readRcloneConf, writeConfCopy } from '../rclone/conf-file.js';
import { findSection } from '../rclone/ini.js';
import { confirmOrDecline } from '../ui/prompts.js';

export interface KeyReplacement {
  /** The crypt section whose keys new ones would replace. */
  remote: string;
  /** The command that writes the new keys, named when the user declines. */
  command: string;
  force?: boolean | undefined;
  replaceKeys?: boolean | undefined;
}

/**
 * Before new crypt keys replace old ones (`cconfig --crypt --force`, `key import --force`), and
 * before anything is written: when the old keys still decrypt data on the remote (or that cannot
 * be checked), new ones make it unreadable, so a yes on the terminal or --replace-keys is needed.
 * Then the whole old rclone-poof.conf is kept beside it (0600) and the user is told where,
 * whatever the answer was about the data.
 */
export async function guardKeyReplacement(ctx: Context, config: PoofConfig, replacement: KeyReplacement): Promise<void> {
  const conf = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  const old = findSection(conf, replacement.remote);
  if (!old || !replacement.force || conf.text === undefined || conf.errors.length > 0) return;
  if (!replacement.replaceKeys) {
    const proof: KeyProof = await ctx
      .locateRclone()
      .then((rclone) => proveCryptKey(rclone, conf.file, old, Object.values(config.paths)))
      .catch((error: Error) => ({ ok: true, empty: false, detail: `the remote could not be checked (${error.message}), so they may` }));
    if (proof.ok && !proof.empty) {
      const what = `the current crypt keys decrypt data on the remote (${proof.detail}); new keys make it unreadable unless the old ones are kept`;
      if (!ctx.interactive) throw new UsageError(`${what}; nothing was written`, 'export them with `poof key export FILE`, then add --replace-keys');
      await confirmOrDecline(`${what}. Replace them (the old file is kept beside it)?`, `${replacement.command} cancelled; the keys were not replaced`);
    }
  }
  const kept = `${conf.file}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await writeConfCopy(conf, kept, ctx);
  ctx.err(`poof: the replaced keys are kept in ${kept} (mode 600${conf.encrypted ? ', encrypted as rclone-poof.conf is' : ''}); \`poof key import\` needs them to read what they encrypted`);
}
