import { randomBytes } from 'node:crypto';
import type { ParsedRcloneConf, RcloneSection } from '../rclone/ini.js';
import { revealObscured } from '../rclone/obscure.js';

/** The crypt remote's name, as in the original poof's documentation. */
export const CRYPT_REMOTE = 'poof-crypt';

/** Pure: the plain remote a crypt section wraps ("poof-backup:bucket" -> "poof-backup"). */
export function wrappedRemote(section: RcloneSection): { remote: string; path: string } | undefined {
  const value = section.values.remote;
  if (section.values.type !== 'crypt' || !value?.includes(':')) return undefined;
  const colon = value.indexOf(':');
  return { remote: value.slice(0, colon), path: value.slice(colon + 1) };
}

/** Pure: the plain and crypt remotes of a config, whichever of the two poof.conf names. */
export function cryptPair(conf: ParsedRcloneConf, current: string): { plain: string; crypt?: string } {
  const section = conf.sections.find((s) => s.name === current);
  const wrapped = section ? wrappedRemote(section) : undefined;
  if (wrapped) return { plain: wrapped.remote, crypt: current };
  const crypt = conf.sections.find((s) => wrappedRemote(s)?.remote === current);
  return crypt ? { plain: current, crypt: crypt.name } : { plain: current };
}

/**
 * Pure: does a recovery kit's section (passwords in the clear) hold the keys a section of
 * rclone-poof.conf already has (passwords obscured)? Importing it then replaces no keys.
 */
export function sameCryptKeys(stored: RcloneSection, kit: RcloneSection): boolean {
  const reveal = (value: string | undefined) => {
    try {
      return value ? revealObscured(value) : '';
    } catch {
      return undefined;
    }
  };
  return reveal(stored.values.password) === (kit.values.password ?? '') && reveal(stored.values.password2) === (kit.values.password2 ?? '');
}

/** A strong random key: 32 bytes, base64url (256 bits). */
export function generateKey(): string {
  return randomBytes(32).toString('base64url');
}

/** Names longer than this become too long for many providers once encrypted (rclone crypt docs). */
export const CRYPT_NAME_LIMIT = 143;

export interface RecoveryKit {
  remote: string;
  wraps: string;
  password: string;
  password2: string;
  filenameEncryption: string;
  directoryNameEncryption: string;
  /** The mappings when the kit was made, and the bucket: what step 1 of the how-to needs. */
  mappings?: Record<string, string>;
  bucket?: string;
}

/** Pure: the recovery kit file: the crypt keys in the clear, the layout, and how to restore. */
export function renderRecoveryKit(kit: RecoveryKit, created: Date): string {
  return [
    '# poof recovery kit',
    `# created ${created.toISOString()}`,
    '#',
    '# These are the keys of your encrypted poof backup, in the clear. Anyone holding this file',
    '# can read the backup; without it NOBODY can, not even you. Print it or keep it offline,',
    '# away from the computer it protects.',
    '#',
    '# To restore on a new machine:',
    '#   1. poof config --map DIR=NAME ... --bucket BUCKET   (the same names and bucket)',
    ...(kit.mappings && Object.keys(kit.mappings).length > 0
      ? ['#      when this kit was made:', ...Object.entries(kit.mappings).map(([dir, name]) => `#        --map ${JSON.stringify(`${dir}=${name}`)}`), ...(kit.bucket ? [`#        --bucket ${JSON.stringify(kit.bucket)}`] : [])]
      : []),
    `#   2. poof cconfig --provider ...                      (the storage that holds ${kit.wraps})`,
    '#   3. poof key import THIS-FILE',
    '#   4. poof download --to /some/new/dir                 (or in place, with --yes)',
    '# Or with rclone alone: put the section below into an rclone config, with each password',
    '# replaced by the output of `rclone obscure -` fed that password on standard input.',
    '',
    `[${kit.remote}]`,
    'type = crypt',
    `remote = ${kit.wraps}`,
    `filename_encryption = ${kit.filenameEncryption}`,
    `directory_name_encryption = ${kit.directoryNameEncryption}`,
    `password = ${kit.password}`,
    `password2 = ${kit.password2}`,
    '',
  ].join('\n');
}
