import { ConfigError } from '../errors.js';
import { findSection, parseRcloneConf, type ParsedRcloneConf, type RcloneSection } from './ini.js';
import type { PoofPaths } from '../config/paths.js';
import type { PoofConfig } from '../config/schema.js';
import { readTextIfExists } from '../config/store.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { decryptConf, encryptConf, isEncryptedConf, usablePassword } from './conf-crypt.js';
import { CONFIG_PASS_ENV, keychainPassword, storeConfPassword, type ConfUnlock } from './conf-password.js';

/** A file in rclone's config format as read from disk: its text and its sections. */
export interface RcloneConf extends ParsedRcloneConf {
  file: string;
  /** The text as read (decrypted); undefined when there is no such file (then there are no sections). */
  text: string | undefined;
  /** Stored with rclone's config encryption. */
  encrypted: boolean;
  /** Where the password that opened it came from, when it is encrypted. */
  passwordFrom?: ConfSecret['from'];
}

/**
 * The one place that reads and parses a file in rclone's format: rclone-poof.conf, or a
 * recovery kit. A missing file reads as one without sections; callers decide what that means.
 * An encrypted file is decrypted with its password from $RCLONE_CONFIG_PASS or the keychain.
 */
export async function readRcloneConf(file: string, unlock: ConfUnlock): Promise<RcloneConf> {
  const stored = await readTextIfExists(file);
  if (stored === undefined || !isEncryptedConf(stored)) return { file, text: stored, encrypted: false, ...parseRcloneConf(stored ?? '') };
  const { text, secret } = await unlockConf(file, stored, unlock);
  return { file, text, encrypted: true, passwordFrom: secret.from, ...parseRcloneConf(text) };
}

/** Where an encrypted file's password came from: the keychain's is stored again for a copy. */
export interface ConfSecret {
  password: string;
  from: 'env' | 'keychain';
}

/** The password that opened each encrypted file, once per process. */
const opened = new Map<string, ConfSecret>();

/** Remember the password a file was just encrypted with (it is new, in the keychain). */
export function rememberConfSecret(file: string, secret: ConfSecret | undefined): void {
  if (secret) opened.set(file, secret);
  else opened.delete(file);
}

/**
 * Decrypt an encrypted config: with $RCLONE_CONFIG_PASS when it opens the file (as rclone would
 * use it), else with the keychain's password for this file. A variable set for another
 * rclone.conf does not stand in the way of the keychain.
 */
async function unlockConf(file: string, stored: string, unlock: ConfUnlock): Promise<{ text: string; secret: ConfSecret }> {
  const known = opened.get(file);
  const candidates: Array<() => Promise<ConfSecret>> = [];
  if (known) candidates.push(async () => known);
  const fromEnv = unlock.env[CONFIG_PASS_ENV];
  if (fromEnv !== undefined && usablePassword(fromEnv)) candidates.push(async () => ({ password: fromEnv, from: 'env' }));
  candidates.push(async () => ({ password: await keychainPassword(file, unlock), from: 'keychain' }));
  let refusedBy: string | undefined;
  for (const [i, candidate] of candidates.entries()) {
    let secret: ConfSecret;
    try {
      secret = await candidate();
    } catch (error) {
      // The keychain could not answer: say so, and that the variable did not open it either.
      if (error instanceof ConfigError && refusedBy) throw new ConfigError(`${error.message}, and ${refusedBy} does not open it`, error.hint);
      throw error;
    }
    const result = await decryptConf(stored, secret.password);
    if (result.ok) {
      opened.set(file, secret);
      return { text: result.text, secret };
    }
    if (result.reason === 'version') throw new ConfigError(`${file} is encrypted in a way this poof does not know`, 'decrypt it with the rclone that wrote it');
    if (result.reason === 'damaged') throw new ConfigError(`${file} is encrypted but damaged (its data is cut short or not base64)`, 'put back a copy, or move it away and set the storage up again with `poof cconfig`');
    if (secret.from === 'env') refusedBy = `$${CONFIG_PASS_ENV}`;
    if (i === candidates.length - 1) {
      const tried = refusedBy && secret.from === 'keychain' ? `the keychain's password or $${CONFIG_PASS_ENV}` : secret.from === 'env' ? `$${CONFIG_PASS_ENV}` : "the keychain's password";
      throw new ConfigError(`${file} cannot be decrypted with ${tried}`, `give the right password in $${CONFIG_PASS_ENV}`);
    }
  }
  throw new ConfigError(`${file} is encrypted and no password opens it`, `give it in $${CONFIG_PASS_ENV}`);
}

/**
 * Write rclone-poof.conf atomically (0600), encrypted again when the file on disk is encrypted:
 * a change never leaves keys in the clear.
 */
export async function writeRcloneConf(file: string, text: string, unlock: ConfUnlock): Promise<void> {
  const current = await readTextIfExists(file);
  if (current === undefined || !isEncryptedConf(current)) return writeFileAtomic(file, text);
  const { secret } = await unlockConf(file, current, unlock);
  await writeFileAtomic(file, await encryptConf(text, secret.password));
}

/**
 * Keep a copy of a config read earlier under another name (0600), as safe as the file: an
 * encrypted one stays encrypted with the same password, and a password from the keychain is
 * stored there for the copy too, so `poof key import COPY` opens it.
 */
export async function writeConfCopy(conf: RcloneConf, copy: string, unlock: ConfUnlock): Promise<void> {
  if (conf.text === undefined) return;
  if (!conf.encrypted) return writeFileAtomic(copy, conf.text);
  const stored = await readTextIfExists(conf.file);
  const { secret } = await unlockConf(conf.file, stored ?? '', unlock);
  if (secret.from === 'keychain') await storeConfPassword(copy, secret.password, unlock);
  await writeFileAtomic(copy, await encryptConf(conf.text, secret.password));
  opened.set(copy, secret);
}

/**
 * The environment an rclone call needs for an encrypted config: the password that opens it in
 * $RCLONE_CONFIG_PASS (never argv), found once per process; and no $RCLONE_PASSWORD_COMMAND,
 * which rclone would ask first. Undefined for a plain config.
 */
export async function confPasswordEnv(args: readonly string[], unlock: ConfUnlock): Promise<Record<string, string> | undefined> {
  const at = args.indexOf('--config');
  const file = at >= 0 ? args[at + 1] : undefined;
  if (file === undefined) return undefined;
  const stored = await readTextIfExists(file);
  if (stored === undefined || !isEncryptedConf(stored)) return undefined;
  return { [CONFIG_PASS_ENV]: (await unlockConf(file, stored, unlock)).secret.password };
}

export interface RemoteSections {
  section: RcloneSection;
  /** For a crypt (or alias) remote: the section it wraps, when it is in the same file. */
  baseSection?: RcloneSection | undefined;
}

/** Read rclone-poof.conf and find poof.conf's remote; ConfigError when either is missing. */
export async function loadRemoteSections(paths: PoofPaths, config: PoofConfig, unlock: ConfUnlock): Promise<RemoteSections> {
  const conf = await readRcloneConf(paths.rcloneConf, unlock);
  if (conf.text === undefined) {
    throw new ConfigError(`rclone-poof.conf not found at ${paths.rcloneConf}`, 'run `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav)');
  }
  if (conf.errors.length > 0) throw new ConfigError(`${paths.rcloneConf}: ${conf.errors[0]}`, 'fix it, or rewrite it with `poof cconfig --force`');
  const section = findSection(conf, config.remote);
  if (!section) throw new ConfigError(`${paths.rcloneConf} has no [${config.remote}] section`, 'run `poof cconfig`, or set "remote" in poof.conf');
  const wrapped = section.values.remote?.includes(':') ? section.values.remote.split(':')[0] : undefined;
  return { section, baseSection: wrapped ? findSection(conf, wrapped) : undefined };
}
