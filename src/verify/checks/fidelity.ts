import type { PoofConfig } from '../../config/schema.js';
import { firstReleaseWith } from '../../rclone/capabilities.js';
import type { ChangeDetection } from '../../rclone/features.js';
import { keepsModes } from '../../rclone/args.js';
import type { ResolvedRemote } from '../../rclone/remote.js';
import type { Check } from '../check.js';

/**
 * Pure: what a backup keeps of each file on this storage and how it finds a changed file, so
 * nobody learns it from a restore. Times and hashes come from what rclone reports for the
 * remote (`backend features`) when verify could ask; modes: rclone 1.60 keeps them (with
 * --metadata) on local and S3 storage only; crypt keeps no metadata; S3-like storage has no
 * empty directories. The remote is resolved as a run resolves it, so both say the same.
 */
export function fidelityCheck(config: PoofConfig, remote: ResolvedRemote, detection?: ChangeDetection): Check {
  const { storageType: backend, crypt, keepsModes: modes } = remote;
  const times = detection ? detection.modTime : true;
  const kept = ['contents'];
  const lost: string[] = [];
  (times ? kept : lost).push('modification times');
  (modes ? kept : lost).push('file modes and owners');
  // A mode the storage could keep but this rclone cannot carry with links: say which rclone can.
  const modesNote = modes
    ? ''
    : keepsModes(backend, crypt, config.symlinks, true)
      ? ` (modes with "symlinks": "links" need rclone ${firstReleaseWith('linksWithMetadata')})`
      : keepsModes(backend, crypt) && config.symlinks === 'links'
        ? ' (not with "symlinks": "links" on a local directory, where each link is a file that would get the link\'s mode: writable by anyone)'
        : '';
  (['s3', 'b2'].includes(backend) ? lost : kept).push('empty directories');
  const links = { follow: 'symbolic links followed (their targets are copied)', links: 'symbolic links kept as links', skip: 'symbolic links skipped' }[config.symlinks ?? 'follow'];
  const where = `${crypt ? 'crypt over ' : ''}${backend === 'alias' ? 'a local directory' : backend}`;
  const compared = detection ? `; changes are found by ${describeComparison(detection, modes, Boolean(remote.tuning.checksum) && !crypt)}; ${describeProof(detection, crypt)}` : '';
  // rclone would run md5sum over SSH after every file it sends: a shell start-up per file.
  const sent = backend === 'sftp' ? (remote.tuning.hashCheck ? '; each file sent is hashed on the server (md5sum over SSH, rclone.hashCheck)' : '; files sent are checked by size, not hashed on the server (SSH checks every byte in transit; rclone.hashCheck: true to run md5sum per file)') : '';
  return {
    id: 'fidelity',
    title: 'fidelity',
    status: 'ok',
    detail: `${where} keeps ${kept.join(', ')}${lost.length ? `; not ${lost.join(' or ')}${modesNote}` : ''}; ${links}${compared}${sent}`,
  };
}

function describeComparison(detection: ChangeDetection, modes: boolean, checksum: boolean): string {
  if (detection.sizeOnly) return "poof's record of what it sent (size and time of each file), since rclone alone could compare sizes only";
  // With --checksum rclone compares size and hash and never looks at times (S3's default here).
  const hash = detection.hashes[0];
  const rclone = checksum && hash ? `size and ${hash} hash (rclone --checksum)` : 'size and modification time';
  return modes ? `${rclone}, and mode changes by poof's record of what it sent` : rclone;
}

/** How `poof upload` proves a file before it wipes it, from the hashes both sides have. */
function describeProof(detection: ChangeDetection, crypt: boolean): string {
  if (crypt) return 'upload proves files with rclone cryptcheck';
  return detection.hashes.length ? `upload proves files by hash (${detection.hashes.slice(0, 3).join(', ')})` : 'upload proves files by downloading and comparing bytes (no hash)';
}
