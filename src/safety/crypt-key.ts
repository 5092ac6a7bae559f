import { CANARY, proveCryptKey } from '../crypt/key-proof.js';
import { RunFailedError } from '../errors.js';
import { buildCatArgs } from '../rclone/args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';

/**
 * Before every run that reads or writes through a crypt remote: refuse unless the keys decrypt
 * what is stored (a mapping's name or the canary). A plain tree that `cryptoggle` left in the
 * same bucket is not "other keys": its names are a mapping's own or cannot be encrypted names
 * (crypt/key-proof.ts), also when poof.conf no longer maps them. rclone 1.60 lists a crypt
 * remote opened with other keys as empty, so without this a backup would write a second
 * encrypted tree beside the first, and a restore would see nothing to restore.
 *
 * `writeCanary`: where nothing encrypted is stored yet, write the canary through the crypt
 * remote, so the next run with other keys has something that cannot decrypt.
 */
export async function requireCryptKey(rclone: Rclone, remote: ResolvedRemote, plainNames: string[], cancelSignal: AbortSignal, writeCanary = false): Promise<void> {
  if (!remote.crypt) return;
  const proof = await proveCryptKey(rclone, remote.configFile, remote.section, plainNames, cancelSignal).catch(
    (error: Error) => ({ ok: false, empty: false, detail: `could not check the crypt keys: ${error.message}` }),
  );
  if (!proof.ok) throw new RunFailedError(`${proof.detail}; nothing was changed`, 'restore the right keys with `poof key import FILE`, then `poof verify`');
  if (!proof.empty || !writeCanary) return;
  const written = await rclone.run(buildCatArgs('rcat', remote.configFile, `${remote.name}:${CANARY}`, 'run'), {
    input: `poof canary ${new Date().toISOString()}`,
    timeoutMs: 180_000,
    cancelSignal,
  });
  if (written.exitCode !== 0 && !cancelSignal.aborted) {
    throw new RunFailedError(`could not write the key canary through [${remote.name}]: ${lastErrorLine(written.stderr)}; nothing was changed`, 'check the remote with `poof verify`');
  }
}
