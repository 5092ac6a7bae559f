import { ConfigError } from '../errors.js';
import { findSection, parseRcloneConf, type ParsedRcloneConf, type RcloneSection } from './ini.js';
import type { PoofPaths } from '../config/paths.js';
import type { PoofConfig } from '../config/schema.js';
import { readTextIfExists } from '../config/store.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { decryptConf, encryptConf, isEncryptedConf } from './conf-crypt.js';
import { CONFIG_PASS_ENV, confPassword, type ConfUnlock } from './conf-password.js';

/** A file in rclone's config format as read from disk: its text and its sections. */
export interface RcloneConf extends ParsedRcloneConf {
  file: string;
  /** The text as read (decrypted); undefined when there is no such file (then there are no sections). */
  text: string | undefined;
  /** Stored with rclone's config encryption. */
  encrypted: boolean;
}

/**
 * The one place that reads and parses a file in rclone's format: rclone-poof.conf, or a
 * recovery kit. A missing file reads as one without sections; callers decide what that means.
 * An encrypted file is decrypted with its password from the keychain (or $RCLONE_CONFIG_PASS).
 */
export async function readRcloneConf(file: string, unlock: ConfUnlock): Promise<RcloneConf> {
  const stored = await readTextIfExists(file);
  if (stored === undefined || !isEncryptedConf(stored)) return { file, text: stored, encrypted: false, ...parseRcloneConf(stored ?? '') };
  const password = await confPassword(file, unlock);
  const opened = await decryptConf(stored, password);
  if (!opened.ok) {
    const from = unlock.env[CONFIG_PASS_ENV] ? `$${CONFIG_PASS_ENV}` : 'the keychain';
    if (opened.reason === 'version') throw new ConfigError(`${file} is encrypted in a way this poof does not know`, 'decrypt it with the rclone that wrote it');
    if (opened.reason === 'damaged') throw new ConfigError(`${file} is encrypted but damaged (its data is cut short or not base64)`, 'put back a copy, or move it away and set the storage up again with `poof cconfig`');
    throw new ConfigError(`${file} cannot be decrypted with the password from ${from}`, `give the right one in $${CONFIG_PASS_ENV}, or put back the keychain entry`);
  }
  return { file, text: opened.text, encrypted: true, ...parseRcloneConf(opened.text) };
}

/**
 * Write rclone-poof.conf atomically (0600), encrypted again when the file on disk is encrypted:
 * a change never leaves keys in the clear.
 */
export async function writeRcloneConf(file: string, text: string, unlock: ConfUnlock): Promise<void> {
  const current = await readTextIfExists(file);
  const encrypt = current !== undefined && isEncryptedConf(current);
  await writeFileAtomic(file, encrypt ? await encryptConf(text, await confPassword(file, unlock)) : text);
}

/**
 * The environment an rclone call needs for an encrypted config: the password in
 * $RCLONE_CONFIG_PASS (never argv), looked up once per process. Empty for a plain config.
 */
export async function confPasswordEnv(args: readonly string[], unlock: ConfUnlock): Promise<Record<string, string>> {
  const at = args.indexOf('--config');
  const file = at >= 0 ? args[at + 1] : undefined;
  if (file === undefined) return {};
  const text = await readTextIfExists(file);
  if (text === undefined || !isEncryptedConf(text)) return {};
  return { [CONFIG_PASS_ENV]: await confPassword(file, unlock) };
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
