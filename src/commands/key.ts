import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import { loadConfig, writeConfig } from '../config/store.js';
import { CRYPT_REMOTE, cryptPair, renderRecoveryKit, sameCryptKeys, wrappedRemote } from '../crypt/layout.js';
import { ConfigError, ExitCode, UsageError } from '../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { escapeRcloneValue, renderTemplate } from '../render-template.js';
import { readTemplate } from '../assets.js';
import { readRcloneConf, writeRcloneConf } from '../rclone/conf-file.js';
import { findSection, upsertSection, type RcloneSection } from '../rclone/ini.js';
import { obscureSecret, revealObscured } from '../rclone/obscure.js';
import { guardKeyReplacement } from '../safety/key-replacement.js';
import type { keyExportSpec, keyImportSpec, OptionsOf } from './specs.js';

type KeyOptions = OptionsOf<typeof keyExportSpec> & OptionsOf<typeof keyImportSpec>;

/** `poof key export FILE`: the crypt keys, in the clear, in a private file with the layout and a how-to. */
export async function keyExportCommand(ctx: Context, options: KeyOptions, args: string[]): Promise<number> {
  const file = resolveFile(ctx, args[0]);
  const { config } = await loadConfig(ctx.paths);
  const parsed = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  const pair = cryptPair(parsed, config.remote);
  const section = pair.crypt ? findSection(parsed, pair.crypt) : undefined;
  const wraps = section ? wrappedRemote(section) : undefined;
  if (!section || !wraps || !section.values.password) {
    throw new ConfigError(`no crypt remote with a password in ${ctx.paths.rcloneConf}`, 'there is nothing to export; `poof cconfig --crypt` creates one');
  }
  if (!options.force && (await access(file).then(() => true, () => false))) throw new UsageError(`${file} exists`, 'choose another file, or add --force');
  ctx.err('poof: warning: this file holds the keys to your encrypted backup in the clear. Anyone with it can read the backup; without it nobody can. Keep it offline (printed, or on a drive in a drawer).');
  const kit = renderRecoveryKit(
    {
      remote: section.name,
      wraps: `${wraps.remote}:${wraps.path}`,
      password: revealObscured(section.values.password),
      password2: section.values.password2 ? revealObscured(section.values.password2) : '',
      filenameEncryption: section.values.filename_encryption ?? 'standard',
      directoryNameEncryption: section.values.directory_name_encryption ?? 'true',
      mappings: config.paths,
      bucket: config.bucket,
    },
    new Date(),
  );
  await ensurePrivateDir(path.dirname(file));
  await writeFileAtomic(file, kit, 0o600);
  ctx.out(`wrote the recovery kit for [${section.name}] to ${file} (mode 600)`);
  return ExitCode.ok;
}

/** `poof key import FILE`: put a recovery kit's crypt remote into rclone-poof.conf and use it. */
export async function keyImportCommand(ctx: Context, options: KeyOptions, args: string[]): Promise<number> {
  const file = resolveFile(ctx, args[0]);
  const kitFile = await readRcloneConf(file, ctx);
  if (kitFile.text === undefined) throw new UsageError(`${file} not found`, 'give the recovery kit written by `poof key export`');
  const found = kitFile.sections.find((s) => s.values.type === 'crypt');
  const wraps = found ? wrappedRemote(found) : undefined;
  if (!found || !wraps || !found.values.password) throw new UsageError(`${file} is not a poof recovery kit (no crypt section with a password)`);
  const kit = isRecoveryKit(kitFile.text) ? found : revealedSection(found, file);
  const { config } = await loadConfig(ctx.paths);
  const parsed = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  if (!findSection(parsed, wraps.remote)) {
    throw new ConfigError(`${ctx.paths.rcloneConf} has no [${wraps.remote}] section, which the kit's crypt remote wraps`, 'set up the same storage first with `poof cconfig --provider ...`');
  }
  const current = findSection(parsed, kit.name);
  if (current && !options.force) {
    throw new UsageError(`${ctx.paths.rcloneConf} already has a [${kit.name}] section`, 'export its keys first if they matter, then add --force');
  }
  // The keys already in use, imported again, replace nothing: no question and no kept copy.
  if (!current || !sameCryptKeys(current, kit)) {
    await guardKeyReplacement(ctx, config, { remote: kit.name, command: 'key import', force: options.force, replaceKeys: options.replaceKeys });
  }
  const rclone = await ctx.locateRclone();
  const section = renderTemplate(
    readTemplate('rclone/crypt.conf'),
    {
      remote: kit.name || CRYPT_REMOTE,
      wrapped: `${wraps.remote}:${wraps.path}`,
      password: await obscureSecret(rclone, kit.values.password ?? found.values.password),
      password2: kit.values.password2 ? await obscureSecret(rclone, kit.values.password2) : '',
    },
    escapeRcloneValue,
  ).replace(/^filename_encryption = .*$/m, `filename_encryption = ${kit.values.filename_encryption ?? 'standard'}`)
    .replace(/^directory_name_encryption = .*$/m, `directory_name_encryption = ${kit.values.directory_name_encryption ?? 'true'}`);
  await ensurePrivateDir(ctx.paths.configDir);
  await writeRcloneConf(ctx.paths.rcloneConf, upsertSection(parsed.text ?? '', kit.name, section), ctx);
  if (wraps.path !== config.bucket) ctx.err(`poof: the kit's remote wraps ${wraps.path}, poof.conf's bucket is ${config.bucket}; the crypt remote uses ${wraps.path}`);
  await writeConfig(ctx.paths, { ...config, remote: kit.name });
  ctx.out(`imported [${kit.name}] over ${wraps.remote}:${wraps.path}; encryption is on. Next: \`poof verify\`, then \`poof download --dry-run\``);
  return ExitCode.ok;
}

function resolveFile(ctx: Context, file: string | undefined): string {
  if (!file) throw new UsageError('a FILE is needed', 'e.g. `poof key export ~/poof-keys.txt`');
  return path.resolve(ctx.cwd, file.startsWith('~/') ? path.join(ctx.home, file.slice(2)) : file);
}

/** Pure: a kit written by `poof key export` (passwords in the clear), not an rclone config. */
function isRecoveryKit(text: string): boolean {
  return text.trimStart().startsWith('# poof recovery kit');
}

/**
 * A crypt section of an rclone config (an old rclone-poof.conf kept as `.replaced-<time>`, or
 * the user's own rclone.conf), its passwords revealed as a kit holds them: rclone keeps them
 * obscured, and obscuring them again would import other keys.
 */
function revealedSection(section: RcloneSection, file: string): RcloneSection {
  try {
    const password2 = section.values.password2 ? revealObscured(section.values.password2) : undefined;
    return { ...section, values: { ...section.values, password: revealObscured(section.values.password ?? ''), ...(password2 !== undefined ? { password2 } : {}) } };
  } catch {
    throw new UsageError(`${file}: the passwords of [${section.name}] are not obscured as rclone keeps them, and the file is not a poof recovery kit`, 'give the kit written by `poof key export`, or an rclone config');
  }
}
