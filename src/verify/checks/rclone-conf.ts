import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import { fileMode } from '../../config/store.js';
import { readRcloneConf, type RcloneConf } from '../../rclone/conf-file.js';
import { savedSchedule } from '../../schedule/install.js';
import { findPlaceholders, findSection, type RcloneSection } from '../../rclone/ini.js';
import type { Check } from '../check.js';
import { PoofError } from '../../errors.js';
import { CONFIG_PASS_ENV, keychainFor } from '../../rclone/conf-password.js';

export async function checkRcloneConf(
  ctx: Context,
  config: PoofConfig | undefined,
  checks: Check[],
): Promise<{ section: RcloneSection; baseSection: RcloneSection | undefined } | undefined> {
  const file = ctx.paths.rcloneConf;
  const title = 'rclone-poof.conf';
  let parsed;
  try {
    parsed = await readRcloneConf(file, ctx);
  } catch (error) {
    // Encrypted, and the keychain or $RCLONE_CONFIG_PASS did not open it.
    if (!(error instanceof PoofError)) throw error;
    checks.push({ id: title, title, status: 'fail', detail: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    return undefined;
  }
  if (parsed.text === undefined) {
    checks.push({ id: title, title, status: 'fail', detail: `not found at ${file}`, hint: 'run `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav)' });
    return undefined;
  }
  if (parsed.errors.length > 0) {
    checks.push({ id: title, title, status: 'fail', detail: `${file} cannot be parsed: ${parsed.errors[0]}`, hint: 'fix it, or rewrite it with `poof cconfig --force`' });
    return undefined;
  }
  const mode = await fileMode(file);
  if (mode !== undefined && (mode & 0o077) !== 0) {
    checks.push({
      id: 'rclone-poof.conf.mode',
      title,
      status: 'fail',
      detail: `${file} holds credentials but other users can access it (mode ${mode.toString(8)})`,
      hint: `chmod 600 "${file}"`,
    });
  }
  if (!config) {
    checks.push({ id: title, title, status: 'skip', detail: 'parsed, but which remote to check needs a valid poof.conf' });
    return undefined;
  }
  const section = findSection(parsed, config.remote);
  if (!section) {
    const others = parsed.sections.map((s) => s.name);
    checks.push({
      id: title,
      title,
      status: 'fail',
      detail: `${file} has no [${config.remote}] section${others.length ? ` (it has ${others.map((n) => `[${n}]`).join(', ')})` : ''}`,
      hint: `run \`poof cconfig\`, or set "remote" in poof.conf to one of its sections`,
    });
    return undefined;
  }
  const problems = [section, ...wrappedSections(parsed.sections, section)].flatMap((s) =>
    findPlaceholders(s).map((key) => `[${s.name}] ${key}`),
  );
  if (problems.length > 0) {
    checks.push({ id: title, title, status: 'fail', detail: `placeholder credentials in ${problems.join(', ')}`, hint: 'put real credentials there with `poof cconfig --force`' });
    return undefined;
  }
  if (!section.values.type) {
    checks.push({ id: title, title, status: 'fail', detail: `[${section.name}] has no "type"`, hint: 'rewrite it with `poof cconfig --force`' });
    return undefined;
  }
  checks.push({ id: title, title, status: 'ok', detail: `[${section.name}] has type ${section.values.type}` });
  checks.push(await encryptionCheck(ctx, parsed));
  return { section, baseSection: wrappedSections(parsed.sections, section)[0] };
}
/** The sections a crypt or alias remote points to, which must hold real credentials too. */
export function wrappedSections(sections: RcloneSection[], section: RcloneSection): RcloneSection[] {
  const target = section.values.remote?.split(':')[0];
  if (!target || !section.values.remote?.includes(':')) return [];
  return sections.filter((s) => s.name === target);
}

/** Is the file that holds the storage's keys useless to whoever copies it off this machine? */
async function encryptionCheck(ctx: Context, conf: RcloneConf): Promise<Check> {
  const id = 'rclone-poof.conf.encryption';
  const title = 'secrets at rest';
  if (conf.encrypted) {
    const from = conf.passwordFrom === 'env' ? `$${CONFIG_PASS_ENV}` : `the keychain (${keychainFor(ctx.platform)?.name ?? 'none'})`;
    const detail = `rclone-poof.conf is encrypted; its password comes from ${from}`;
    if (conf.passwordFrom === 'keychain' && (await savedSchedule(ctx.paths.stateDir))?.kind === 'cron') {
      return { id, title, status: 'warn', detail: `${detail}, which the cron schedule cannot reach: its runs fail`, hint: '`poof schedule remove --kind cron`, then `poof schedule install --kind systemd`' };
    }
    return { id, title, status: 'ok', detail };
  }
  return {
    id,
    title,
    status: 'ok',
    detail: 'rclone-poof.conf is not encrypted: rclone only obscures the keys in it, so a copy of the file gives them away',
    hint: '`poof cconfig --encrypt-config` encrypts it, with its password in the OS keychain',
  };
}
