import { buildListArgs } from '../rclone/args.js';
import type { Rclone } from '../rclone/runner.js';

export interface KeyProof {
  ok: boolean;
  /** The encrypted tree holds nothing yet: there is no data a key could be checked against. */
  empty: boolean;
  detail: string;
}

/** Written by `poof verify` through the crypt remote; its name decrypting proves the keys. */
export const CANARY = '.poof-canary';

/**
 * Pure: judge the top level of the storage as seen through crypt and as stored. With a wrong key
 * an encrypted name now and then still "decrypts" to garbage that passes rclone's padding check,
 * so a listing that is merely non-empty proves nothing: a mapping's name or the canary must
 * come out.
 */
export function judgeKey(decrypted: string[], stored: string[], mappingNames: string[]): KeyProof {
  // Plain (unencrypted) mappings may share the bucket: their names are not encrypted ones.
  const plain = new Set(mappingNames.map((n) => `${n}/`));
  const encrypted = stored.filter((name) => !plain.has(name));
  if (encrypted.length === 0) return { ok: true, empty: true, detail: 'no encrypted data yet' };
  const known = decrypted.filter((name) => plain.has(name) || name === CANARY);
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
  cryptRemote: string,
  wraps: string,
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
  const [decrypted, stored] = await Promise.all([list(`${cryptRemote}:`), list(wraps)]);
  return judgeKey(decrypted, stored, plainNames);
}
