import path from 'node:path';
import { refuseOverlap } from '../safety/sources.js';
import type { PoofConfig } from '../config/schema.js';
import { normalizeDir } from '../fs/paths.js';
import { buildRestoreArgs } from '../rclone/args.js';
import type { DryRunAction } from '../rclone/log-parse.js';
import { mappingPath, transferSettings, type ResolvedRemote } from '../rclone/remote.js';
import { refuseOverMapped, refuseTarget, type ProtectedPlaces } from '../safety/targets.js';

/** Where one mapping is restored from and to. */
export interface RestoreTarget {
  name: string;
  localDir: string;
  remotePath: string;
  /** Why this mapping must not be restored; it is then reported as refused. */
  refusal?: string;
}

export interface RestoreSettings {
  config: PoofConfig;
  remote: ResolvedRemote;
  /** The storage can compare sizes only: plan as if every local file differed. */
  sizeOnly?: boolean;
}

export interface RestoreTargetsInput extends RestoreSettings {
  only?: string[] | undefined;
  /** --to DIR: restore each mapping into DIR/NAME instead of its own directory. */
  to?: string | undefined;
  places: ProtectedPlaces;
}

/** Pure: the mappings to restore and where to; dangerous targets are refused. */
export function planRestoreTargets(input: RestoreTargetsInput): RestoreTarget[] {
  const { config, remote } = input;
  return Object.entries(config.paths)
    .filter(([, name]) => !input.only || input.only.includes(name))
    .map(([rawDir, name]) => {
      const localDir = input.to ? path.posix.join(normalizeDir(input.to), name) : normalizeDir(rawDir);
      const remotePath = mappingPath(config, remote, name);
      const refusal =
        refuseTarget(localDir, input.places) ??
        (input.to ? refuseOverMapped(localDir, Object.keys(config.paths)) : undefined) ??
        refuseOverlap(localDir, remote, config, name);
      return { name, localDir, remotePath, ...(refusal ? { refusal } : {}) };
    });
}

/** Pure: the rclone argv restoring one target into stagingDir; without it, the planning dry run. */
export function restoreArgsFor(target: RestoreTarget, settings: RestoreSettings, stagingDir?: string): string[] {
  const { config, remote } = settings;
  return buildRestoreArgs({
    ...transferSettings(config, remote),
    remotePath: target.remotePath,
    localDir: target.localDir,
    stagingDir,
    ignoreTimes: Boolean(settings.sizeOnly),
  });
}

export interface PlannedFile {
  path: string;
  size: number;
}

/** What a restore changes locally, from rclone's own dry run. */
export interface RestoreChanges {
  /** Files only on the remote: created locally, nothing is lost. */
  restore: PlannedFile[];
  /** Local files rclone would overwrite: they go to the trash first. */
  replace: PlannedFile[];
  /** Local files not on the remote, which the mirror would delete: they go to the trash first. */
  remove: PlannedFile[];
  /** Identical files whose modification time is corrected. */
  touch: number;
}

export interface DryRunItem {
  action: DryRunAction;
  object: string;
  size?: number | undefined;
}

/**
 * Pure: sort rclone's dry-run actions into what is new and what replaces or deletes a local file.
 * A copy onto a path that exists locally replaces that file (whose local size is what is at stake).
 */
export function sortChanges(items: DryRunItem[], existingLocally: ReadonlyMap<string, number>): RestoreChanges {
  const changes: RestoreChanges = { restore: [], replace: [], remove: [], touch: 0 };
  for (const item of items) {
    const file = { path: item.object, size: item.size ?? 0 };
    const localSize = existingLocally.get(item.object);
    if (item.action === 'copy' && localSize !== undefined) changes.replace.push({ path: item.object, size: localSize });
    else if (item.action === 'copy') changes.restore.push(file);
    else if (item.action === 'delete') changes.remove.push(file);
    else if (item.action === 'touch') changes.touch++;
  }
  return changes;
}

/** Pure: the bytes of a list of files. */
export const totalSize = (files: PlannedFile[]) => files.reduce((sum, f) => sum + f.size, 0);

/** Pure: how many local files a set of plans would replace or delete. */
export function countEndangered(changes: Array<RestoreChanges | undefined>): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const c of changes) {
    if (!c) continue;
    files += c.replace.length + c.remove.length;
    bytes += totalSize(c.replace) + totalSize(c.remove);
  }
  return { files, bytes };
}
