import type { Context } from '../context.js';
import { ConfigError, ExitCode, RunFailedError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { baseFlags } from '../rclone/args.js';
import { encryptConf, newConfPassword } from '../rclone/conf-crypt.js';
import { readRcloneConf } from '../rclone/conf-file.js';
import { CONFIG_PASS_ENV, forgetConfPassword, keychainFor, storeConfPassword } from '../rclone/conf-password.js';
import { shellQuote } from '../schedule/render.js';

/**
 * `poof cconfig --encrypt-config`: rclone-poof.conf encrypted with rclone's own config
 * encryption, so a copy of the file taken off the laptop is useless. The password is new and
 * random, kept in the OS keychain (unless the user keeps one in $RCLONE_CONFIG_PASS), so runs
 * from launchd or systemd still work. Before it says done, rclone itself must read the file.
 */
export async function encryptConfigCommand(ctx: Context): Promise<number> {
  const file = ctx.paths.rcloneConf;
  const conf = await readRcloneConf(file, ctx);
  if (conf.text === undefined) throw new ConfigError(`rclone-poof.conf not found at ${file}: there is nothing to encrypt`, 'set the storage up first: poof cconfig --provider ...');
  if (conf.encrypted) {
    ctx.out(`${file} is encrypted already`);
    return ExitCode.ok;
  }
  if (conf.errors.length > 0) throw new ConfigError(`${file} cannot be parsed: ${conf.errors[0]}`, 'fix it first, then encrypt it');
  const userPassword = ctx.env[CONFIG_PASS_ENV];
  const password = userPassword || newConfPassword();
  const keychain = userPassword ? undefined : await storeConfPassword(file, password, ctx);
  const plain = conf.text;
  await writeFileAtomic(file, await encryptConf(plain, password));
  // rclone must open what poof wrote, with the password it will get on every run.
  const rclone = await ctx.locateRclone();
  const listed = await rclone.run(['listremotes', ...baseFlags(file)], { timeoutMs: 30_000 });
  const names = listed.stdout.split('\n').map((line) => line.trim().replace(/:$/, '')).filter(Boolean).sort();
  const expected = conf.sections.map((section) => section.name).sort();
  if (listed.exitCode !== 0 || names.join('\n') !== expected.join('\n')) {
    await writeFileAtomic(file, plain);
    if (keychain) await forgetConfPassword(file, ctx);
    throw new RunFailedError(`rclone could not read rclone-poof.conf once encrypted (exit ${listed.exitCode}): it was put back unencrypted`, 'check `rclone version`, then try again');
  }
  if (keychain) {
    ctx.out(`encrypted ${file}; its password is in the keychain (${keychain.name})`);
    ctx.out(`plain rclone reads it with: rclone --config ${shellQuote(file)} --password-command ${shellQuote(rclonePasswordCommand(keychain.passwordCommand(file)))} listremotes`);
    ctx.err('poof: a run that cannot reach the keychain (cron, no login session) fails and says so; launchd and systemd user units reach it');
  } else {
    ctx.out(`encrypted ${file} with the password in $${CONFIG_PASS_ENV}; every run needs it there`);
  }
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
  const conf = await readRcloneConf(file, ctx);
  if (conf.text === undefined) throw new ConfigError(`rclone-poof.conf not found at ${file}`, 'set the storage up first: poof cconfig --provider ...');
  if (!conf.encrypted) {
    ctx.out(`${file} is not encrypted`);
    return ExitCode.ok;
  }
  await writeFileAtomic(file, conf.text);
  if (!ctx.env[CONFIG_PASS_ENV]) await forgetConfPassword(file, ctx);
  ctx.out(`${file} is stored unencrypted again (mode 0600)${ctx.env[CONFIG_PASS_ENV] ? '' : `; its password was removed from the keychain (${keychainFor(ctx.platform)?.name})`}`);
  return ExitCode.ok;
}

/** Pure: a command as rclone's --password-command takes it (space-separated, "quoted" as in CSV). */
export function rclonePasswordCommand(argv: string[]): string {
  return argv.map((arg) => (/[\s"]/.test(arg) ? `"${arg.replace(/"/g, '""')}"` : arg)).join(' ');
}
