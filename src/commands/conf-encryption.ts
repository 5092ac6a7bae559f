import type { Context } from '../context.js';
import { ConfigError, ExitCode, RunFailedError, UsageError } from '../errors.js';
import { readTextIfExists } from '../config/store.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { savedSchedule } from '../schedule/install.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { baseFlags } from '../rclone/args.js';
import { encryptConf, isEncryptedConf, newConfPassword } from '../rclone/conf-crypt.js';
import { readRcloneConf, rememberConfSecret } from '../rclone/conf-file.js';
import { forgetConfPassword, keychainFor, keychainKey, storeConfPassword } from '../rclone/conf-password.js';
import { shellQuote } from '../schedule/render.js';

/**
 * `poof cconfig --encrypt-config`: rclone-poof.conf encrypted with rclone's own config
 * encryption, so a copy of the file taken off the laptop is useless. The password is new and
 * random and kept in the OS keychain, so runs from launchd or systemd still work. Before it says
 * done, rclone itself must read the file; otherwise the file is put back as it was.
 */
export async function encryptConfigCommand(ctx: Context): Promise<number> {
  const file = ctx.paths.rcloneConf;
  const stored = await readTextIfExists(file);
  if (stored === undefined) throw new ConfigError(`rclone-poof.conf not found at ${file}: there is nothing to encrypt`, 'set the storage up first: poof cconfig --provider ...');
  if (isEncryptedConf(stored)) {
    ctx.out(`${file} is encrypted already`);
    return ExitCode.ok;
  }
  const conf = await readRcloneConf(file, ctx);
  if (conf.errors.length > 0 || conf.text === undefined) throw new ConfigError(`${file} cannot be parsed: ${conf.errors[0]}`, 'fix it first, then encrypt it');
  const schedule = await savedSchedule(ctx.paths.stateDir);
  if (schedule?.kind === 'cron') {
    throw new UsageError('a cron schedule runs poof here, and cron starts jobs outside the login session, where the keychain cannot be reached', 'move it first: `poof schedule remove --kind cron`, then `poof schedule install --kind systemd` (or launchd on macOS)');
  }
  // Before anything is written: what proves the result.
  const rclone = await ctx.locateRclone();
  const password = newConfPassword();
  const keychain = await storeConfPassword(file, password, ctx);
  const plain = conf.text;
  await writeFileAtomic(file, await encryptConf(plain, password));
  rememberConfSecret(file, { password, from: 'keychain' });
  // rclone must open what poof wrote, with the password it will get on every run (rclone lists
  // only sections with a type).
  const listed = await rclone.run(['listremotes', ...baseFlags(file)], { timeoutMs: 30_000 });
  const names = new Set(listed.stdout.split('\n').map((line) => line.trim().replace(/:$/, '')));
  const missing = conf.sections.filter((section) => section.values.type !== undefined && !names.has(section.name));
  if (listed.exitCode !== 0 || missing.length > 0) {
    await writeFileAtomic(file, stored);
    rememberConfSecret(file, undefined);
    await forgetConfPassword(file, ctx);
    const why = listed.exitCode !== 0 ? lastErrorLine(listed.stderr) : `it does not list ${missing.map((section) => `[${section.name}]`).join(', ')}`;
    throw new RunFailedError(`rclone could not read rclone-poof.conf once encrypted (${why}): it was put back as it was`, 'check `rclone version`, then try again');
  }
  ctx.out(`encrypted ${file}; its password is in the keychain (${keychain.name})`);
  ctx.out(`plain rclone reads it with: rclone --config ${shellQuote(file)} --password-command ${shellQuote(rclonePasswordCommand(keychain.passwordCommand(await keychainKey(file))))} listremotes`);
  ctx.err('poof: a run that cannot reach the keychain (cron, no login session) fails and says so; launchd and systemd user units reach it');
  const crypt = conf.sections.some((section) => section.values.type === 'crypt');
  ctx.err(
    crypt
      ? 'poof: without that password this file is lost, and with it the crypt keys: keep `poof key export FILE` offline'
      : 'poof: without that password this file is lost: keep your storage credentials somewhere else too',
  );
  return ExitCode.ok;
}

/** `poof cconfig --decrypt-config`: the file in the clear again (0600), then the keychain entry removed. */
export async function decryptConfigCommand(ctx: Context): Promise<number> {
  const file = ctx.paths.rcloneConf;
  const stored = await readTextIfExists(file);
  if (stored === undefined) throw new ConfigError(`rclone-poof.conf not found at ${file}`, 'set the storage up first: poof cconfig --provider ...');
  if (!isEncryptedConf(stored)) {
    ctx.out(`${file} is not encrypted`);
    return ExitCode.ok;
  }
  const conf = await readRcloneConf(file, ctx);
  await writeFileAtomic(file, conf.text ?? '');
  rememberConfSecret(file, undefined);
  const kept = await forgetConfPassword(file, ctx);
  ctx.out(`${file} is stored unencrypted again (mode 0600)`);
  ctx.err(kept === undefined ? `poof: its password was removed from the keychain (${keychainFor(ctx.platform)?.name})` : `poof: its password could not be removed from the keychain (${kept}); it is no longer needed`);
  return ExitCode.ok;
}

/** Pure: a command as rclone's --password-command takes it (space-separated, "quoted" as in CSV). */
export function rclonePasswordCommand(argv: string[]): string {
  return argv.map((arg) => (/[\s"]/.test(arg) ? `"${arg.replace(/"/g, '""')}"` : arg)).join(' ');
}
