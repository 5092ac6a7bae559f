import path from 'node:path';
import type { PoofConfig } from '../config/schema.js';
import { isInside, normalizeDir } from '../fs/paths.js';
import { localDirOf, type ResolvedRemote } from '../rclone/remote.js';

/** What a backup source looks like on disk, probed before planning. */
export interface SourceState {
  exists: boolean;
  isDirectory: boolean;
  hasFiles: boolean;
}

/**
 * Pure: why a source must not be mirrored. A missing or empty source is refused: rclone would
 * mirror the emptiness and delete the whole remote copy.
 */
export function refuseSource(state: SourceState | undefined, allowEmpty: boolean): string | undefined {
  if (!state?.exists) return 'the local directory does not exist (or its disk is not mounted); the remote copy is left as it is';
  if (!state.isDirectory) return 'the local path is not a directory';
  if (!state.hasFiles && !allowEmpty) return 'the local directory holds no files; mirroring it would delete the whole remote copy, so it is skipped';
  return undefined;
}

/** Pure: a local-directory "cloud" inside the source (or around it) would copy the backup into itself. */
export function refuseOverlap(localDir: string, remote: ResolvedRemote, config: PoofConfig, name: string): string | undefined {
  const local = localDirOf(config, remote.section);
  if (!local) return undefined;
  const dest = normalizeDir(path.posix.join(local, name));
  if (dest === localDir || isInside(dest, localDir) || isInside(localDir, dest)) {
    return `the backup destination ${dest} overlaps the directory itself; keep the local "cloud" elsewhere: \`poof cconfig --provider local --root DIR --force\``;
  }
  return undefined;
}

/**
 * Pure: a directory whose last restore did not finish holds only part of the remote copy (and
 * the rest in the trash): backing it up would replace the good remote copy with the part.
 */
export function refuseUnfinishedRestore(localDir: string, name: string, unfinished: ReadonlySet<string>, override: boolean): string | undefined {
  if (override || !unfinished.has(localDir)) return undefined;
  return `the last restore into ${localDir} did not finish, so it may hold only part of the remote copy; finish it with \`poof download --only ${name}\`, or pass --ignore-unfinished-restore to copy what is there`;
}
