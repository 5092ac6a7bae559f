import { proveCryptKey } from '../crypt/key-proof.js';
import { RunFailedError } from '../errors.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';

/**
 * Before a run that can lose data (download, upload): with a crypt remote, refuse unless the
 * keys decrypt what is stored.
 */
export async function requireCryptKey(rclone: Rclone, remote: ResolvedRemote, plainNames: string[], cancelSignal?: AbortSignal): Promise<void> {
  if (!remote.crypt) return;
  const proof = await proveCryptKey(rclone, remote.configFile, remote.name, remote.wraps ?? '', plainNames, cancelSignal).catch(
    (error: Error) => ({ ok: false, empty: false, detail: `could not check the crypt keys: ${error.message}` }),
  );
  if (!proof.ok) throw new RunFailedError(`${proof.detail}; nothing was changed`, 'restore the right keys with `poof key import FILE`, then `poof verify`');
}
