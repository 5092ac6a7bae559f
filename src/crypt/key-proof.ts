import { buildListArgs } from '../rclone/args.js';
import type { RcloneSection } from '../rclone/ini.js';
import type { Rclone } from '../rclone/runner.js';
import { VAULT_DIR } from '../vault/layout.js';

export interface KeyProof {
  ok: boolean;
  /** The encrypted tree holds nothing yet: there is no data a key could be checked against. */
  empty: boolean;
  detail: string;
}

/** Written by `poof verify` through the crypt remote; its name decrypting proves the keys. */
export const CANARY = '.poof-canary';

/** How a crypt section names what it stores: its rclone settings, as in rclone-poof.conf. */
export type CryptNaming = Partial<Record<'filename_encryption' | 'filename_encoding' | 'directory_name_encryption', string>>;

/**
 * Pure: can a name stored under the crypt remote be one that the crypt remote wrote? Standard name
 * encryption pads each name to 16-byte blocks and writes them in base32hex without padding,
 * lower case (rclone decodes it case-insensitively): 26 characters for a short name, then 52,
 * 77, 103... (seen with rclone 1.60.1 and 1.75.2); with filename_encoding = base64 it is
 * URL-safe base64 without padding: 22, 43, 64... So "Docs/", "OldDocs/" or "notes.txt" were
 * stored without crypt: a plain tree left by `cryptoggle`, also from a mapping since removed.
 * Names under other settings ("off", "obfuscate", base32768, or plain directory names) cannot be
 * told apart that way: every name might be encrypted.
 */
export function couldBeEncrypted(name: string, naming: CryptNaming = {}): boolean {
  const dir = name.endsWith('/');
  const bare = dir ? name.slice(0, -1) : name;
  if ((naming.filename_encryption ?? 'standard') !== 'standard') return true;
  if (dir && naming.directory_name_encryption === 'false') return true;
  const encoding = naming.filename_encoding ?? 'base32';
  const [alphabet, bits] = encoding === 'base32' ? [/^[0-9a-v]+$/i, 5] : encoding === 'base64' ? [/^[A-Za-z0-9_-]+$/, 6] : [undefined, 0];
  if (!alphabet) return true;
  if (!alphabet.test(bare)) return false;
  const bytes = Math.floor((bare.length * bits) / 8);
  return bytes > 0 && bytes % 16 === 0 && Math.ceil((bytes * 8) / bits) === bare.length;
}

/**
 * Pure: judge the top level of the storage as seen through crypt and as stored. With a wrong key
 * an encrypted name now and then still "decrypts" to garbage that passes rclone's padding check,
 * so a listing that is merely non-empty proves nothing: a mapping's name or the canary must
 * come out.
 */
export function judgeKey(decrypted: string[], stored: string[], mappingNames: string[], naming: CryptNaming = {}): KeyProof {
  // A plain tree may share the bucket: a mapping's own name, or any name crypt cannot have written.
  const mappings = new Set(mappingNames.map((n) => `${n}/`));
  const encrypted = stored.filter((name) => !mappings.has(name) && couldBeEncrypted(name, naming));
  if (encrypted.length === 0) return { ok: true, empty: true, detail: 'no encrypted data yet' };
  // An append-only vault's folder (made beforehand on a write-only server) proves the keys as well.
  const known = decrypted.filter((name) => mappings.has(name) || name === CANARY || name === `${VAULT_DIR}/`);
  if (known.length === 0) {
    return { ok: false, empty: false, detail: `cannot decrypt: wrong password or not a poof crypt remote (${encrypted.length} stored names, none decrypts to a mapping or the canary)` };
  }
  return { ok: true, empty: false, detail: `the keys decrypt the stored names (${known.map((n) => n.replace(/\/$/, '')).join(', ')})` };
}

/**
 * rclone 1.60 lists a crypt remote opened with the wrong password as an EMPTY tree with exit 0.
 * Prove the keys before trusting such a listing: names stored under the crypt remote must decrypt.
 */
export async function proveCryptKey(
  rclone: Rclone,
  configFile: string,
  crypt: RcloneSection,
  plainNames: string[],
  cancelSignal?: AbortSignal,
): Promise<KeyProof> {
  const list = async (target: string) => {
    const result = await rclone.run(buildListArgs(configFile, target, 'run'), {
      timeoutMs: 180_000,
      ...(cancelSignal ? { cancelSignal } : {}),
    });
    // A missing bucket or directory (exit 3) holds nothing.
    if (result.exitCode === 3) return [];
    if (result.exitCode !== 0) throw new Error(`rclone lsf ${target} exited ${result.exitCode}`);
    return result.stdout.split('\n').filter((l) => l !== '');
  };
  const [decrypted, stored] = await Promise.all([list(`${crypt.name}:`), list(crypt.values.remote ?? '')]);
  return judgeKey(decrypted, stored, plainNames, crypt.values);
}
