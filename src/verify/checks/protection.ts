import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { PoofConfig } from '../../config/schema.js';
import { baseFlags } from '../../rclone/args.js';
import { lastErrorLine } from '../../rclone/log-parse.js';
import type { ResolvedRemote } from '../../rclone/remote.js';
import type { Rclone } from '../../rclone/runner.js';
import { runsRoot, vaultWriteFlags } from '../../vault/layout.js';
import { writeFlagsOf } from '../../vault/records.js';
import type { Check } from '../check.js';

/** In runs/, a name no record has: the object verify tries to overwrite and delete. */
export const CANARY = '.poof-canary';

const QUICK = ['--contimeout', '15s', '--timeout', '30s', '--retries', '1', '--low-level-retries', '1'];

/**
 * Can this machine's key destroy what backups stored? In mirror mode it can, by design: said
 * plainly. In append-only mode it is tried: poof writes a canary into runs/ (once: later runs
 * find it there), tries to overwrite it and to delete it, and reads it back. A key that could
 * do either fails the check: the protection the mode promises is not there.
 */
export async function checkProtection(rclone: Rclone | undefined, config: PoofConfig, remote: ResolvedRemote): Promise<Check> {
  const id = 'protection';
  const title = 'protection';
  if (config.mode !== 'append-only') {
    return { id, title, status: 'ok', detail: 'mirror: this machine\'s key can delete or overwrite everything on the remote, history included, as malware or a thief on this machine could', hint: '"mode": "append-only" in poof.conf with a key that can only add files keeps past runs out of their reach' };
  }
  if (!rclone) return { id, title, status: 'skip', detail: 'not tried: the remote must answer first' };
  const canary = `${runsRoot(remote.root)}/${CANARY}`;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-canary-'));
  try {
    const flags = writeFlagsOf(rclone);
    const run = (args: string[]) => rclone.run([...args, ...baseFlags(remote.configFile), ...QUICK], { timeoutMs: 120_000 });
    let original = await run(['cat', canary]);
    if (original.exitCode !== 0) {
      const first = path.join(scratch, 'canary');
      await writeFile(first, `poof canary ${randomBytes(8).toString('hex')}\n`);
      const made = await run(['copyto', first, canary, ...vaultWriteFlags(flags)]);
      if (made.exitCode !== 0) return { id, title, status: 'fail', detail: `could not write ${canary} (rclone exited ${made.exitCode}: ${lastErrorLine(made.stderr)})`, hint: 'the folders a backup writes into are made beforehand: see "Append-only backups" in the README' };
      original = await run(['cat', canary]);
      if (original.exitCode !== 0) return { id, title, status: 'fail', detail: `could not read back ${canary} (rclone exited ${original.exitCode}: ${lastErrorLine(original.stderr)})` };
    }
    const other = path.join(scratch, 'other');
    await writeFile(other, `overwritten ${randomBytes(8).toString('hex')}\n`);
    const overwrite = await run(['copyto', other, canary, '--ignore-times', '--sftp-set-modtime=false', ...(flags.partialUploads ? ['--inplace'] : [])]);
    const remove = await run(['deletefile', canary]);
    const after = await run(['cat', canary]);
    const canOverwrite = overwrite.exitCode === 0 || (after.exitCode === 0 && after.stdout !== original.stdout);
    const canDelete = remove.exitCode === 0 || after.exitCode !== 0;
    // On S3, a bucket with versioning keeps what a delete or an overwrite hides.
    const bucket = remote.crypt ? remote.wraps : remote.root;
    const versioning = (canDelete || canOverwrite) && remote.storageType === 's3' && bucket ? (await run(['backend', 'versioning', bucket])).stdout.trim() : undefined;
    return { id, title, ...protectionVerdict(canary, canDelete, canOverwrite, versioning) };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Pure: what the canary showed. A key that could delete or overwrite it fails the check, unless
 * the bucket keeps every version (S3 versioning "Enabled"): then what it hides stays recoverable,
 * as long as the key cannot delete versions too, which only the bucket's policy or Object Lock says.
 */
export function protectionVerdict(canary: string, canDelete: boolean, canOverwrite: boolean, versioning?: string): Pick<Check, 'status' | 'detail' | 'hint'> {
  if (!canDelete && !canOverwrite) return { status: 'ok', detail: `append-only: this key cannot delete or overwrite your backups (the storage refused both on ${canary})` };
  const could = [canDelete ? 'delete' : '', canOverwrite ? 'overwrite' : ''].filter(Boolean).join(' and ');
  if (versioning === 'Enabled') {
    return {
      status: 'warn',
      detail: `append-only: this key can ${could} objects (it did on ${canary}), but the bucket keeps every version (S3 versioning on), so what it hides stays recoverable with the provider's tools, unless this key may also delete versions`,
      hint: 'make sure its policy has no s3:DeleteObjectVersion or s3:PutBucketVersioning, or turn on Object Lock (`poof cconfig --append-only-help`)',
    };
  }
  return {
    status: 'fail',
    detail: `append-only, but this key can ${could} your backups: the storage let it ${could} ${canary}, so malware or a thief on this machine could too`,
    hint: 'give this machine a key that can only add files (`poof cconfig --append-only-help` prints how for your storage)',
  };
}
