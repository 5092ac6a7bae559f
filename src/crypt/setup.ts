import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { writeConfig } from '../config/store.js';
import { ConfigError, ExitCode, UsageError } from '../errors.js';
import { ensurePrivateDir } from '../fs/atomic-write.js';
import { readTemplate } from '../assets.js';
import { escapeRcloneValue, renderTemplate } from '../render-template.js';
import { readRcloneConf, writeRcloneConf } from '../rclone/conf-file.js';
import { findSection, upsertSection } from '../rclone/ini.js';
import { obscureSecret } from '../rclone/obscure.js';
import { askPassword } from '../ui/prompts.js';
import { CRYPT_REMOTE, cryptPair, generateKey } from './layout.js';

export const PASSPHRASE_ENV = 'POOF_CRYPT_PASSPHRASE';

export interface CryptSetupOptions {
  force?: boolean | undefined;
  passphraseStdin?: boolean | undefined;
  askPassphrase?: boolean | undefined;
  replaceKeys?: boolean | undefined;
}

/**
 * Add the crypt remote over the plain one (`<plain>:<bucket>`, standard name encryption), with a
 * generated 256-bit password (or the user's passphrase) and a generated salt, obscured by rclone
 * from standard input, and switch poof.conf to it.
 */
export async function addCryptRemote(ctx: Context, config: PoofConfig, options: CryptSetupOptions): Promise<number> {
  const parsed = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  const text = parsed.text ?? '';
  if (parsed.errors.length > 0) throw new ConfigError(`${ctx.paths.rcloneConf} cannot be parsed: ${parsed.errors[0]}`, 'fix it first');
  const { plain } = cryptPair(parsed, config.remote);
  if (!findSection(parsed, plain)) {
    throw new ConfigError(`${ctx.paths.rcloneConf} has no [${plain}] section to encrypt on top of`, 'run `poof cconfig --provider ... --crypt`');
  }
  if (findSection(parsed, CRYPT_REMOTE) && !options.force) {
    throw new UsageError(
      `${ctx.paths.rcloneConf} already has a [${CRYPT_REMOTE}] section: new keys would make everything encrypted with the old ones unreadable`,
      'save the old keys with `poof key export FILE` first, then add --force',
    );
  }
  const passphrase = options.passphraseStdin
    ? await readStdinLine()
    : options.askPassphrase
      ? await askPassphrase()
      : ctx.env[PASSPHRASE_ENV] || undefined;
  if (passphrase !== undefined && passphrase.length < 12) {
    throw new UsageError('the crypt passphrase is shorter than 12 characters', 'use a longer one, or give none to have a strong random key generated');
  }
  const rclone = await ctx.locateRclone();
  const password = await obscureSecret(rclone, passphrase ?? generateKey());
  const password2 = await obscureSecret(rclone, generateKey());
  const section = renderTemplate(
    readTemplate('rclone/crypt.conf'),
    { remote: CRYPT_REMOTE, wrapped: `${plain}:${config.bucket}`, password, password2 },
    escapeRcloneValue,
  );
  await ensurePrivateDir(ctx.paths.configDir);
  await writeRcloneConf(ctx.paths.rcloneConf, upsertSection(text, CRYPT_REMOTE, section), ctx);
  await writeConfig(ctx.paths, { ...config, remote: CRYPT_REMOTE });
  ctx.out(section.replace(/^(password2?\s*=\s*).+$/gm, '$1***'));
  ctx.err(`poof: wrote [${CRYPT_REMOTE}] over ${plain}:${config.bucket} (${passphrase ? 'your passphrase' : 'a generated 256-bit key'}); encryption is on: poof.conf now uses [${CRYPT_REMOTE}]`);
  ctx.err('poof: losing the keys loses the data: save them now with `poof key export FILE`, and keep that file offline');
  return ExitCode.ok;
}

/** A passphrase typed twice on the terminal, masked. */
async function askPassphrase(): Promise<string> {
  const first = await askPassword({ message: 'Crypt passphrase (12 characters at least):', mask: '*' });
  const second = await askPassword({ message: 'The same passphrase again:', mask: '*' });
  if (first !== second) throw new UsageError('the two passphrases differ; nothing was written');
  return first;
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text === '') throw new UsageError('--passphrase-stdin: standard input was empty', 'pipe the passphrase in');
  return text;
}
