import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { MappingPlan } from '../engine/plan.js';
import type { RestoreResult } from '../engine/result.js';
import { runMapping, type MappingHooks } from '../engine/run-mapping.js';
import type { Rclone } from '../rclone/runner.js';
import type { InspectedTarget } from './inspect.js';

export interface RestoreMode {
  /** trash: the OS trash (default); keep: a directory the user chose (--keep-dir). */
  kind: 'trash' | 'keep';
  /** rclone's --backup-dir for this mapping: the safety net (trash) or the chosen directory (keep). */
  backupDir: string;
  linksMode: boolean;
}

export type MoveToTrash = (files: string[]) => Promise<void>;

/**
 * Restore one mapping. In trash mode, every local file the dry run showed would be replaced or
 * deleted goes to the OS trash first, where the file manager can put it back where it was. The
 * sync itself still runs with --backup-dir, so a file that changed after the dry run is moved
 * aside rather than destroyed; whatever lands there goes to the trash afterwards too.
 */
export async function restoreMapping(
  rclone: Rclone,
  target: InspectedTarget,
  plan: MappingPlan,
  mode: RestoreMode,
  hooks: MappingHooks,
  moveToTrash: MoveToTrash,
): Promise<RestoreResult> {
  let trashedFirst = 0;
  if (mode.kind === 'trash' && target.changes) {
    const endangered = [...target.changes.replace, ...target.changes.remove];
    const present: string[] = [];
    for (const file of endangered) {
      const local = await existingLocalPath(target.localDir, file.path, mode.linksMode);
      if (local) present.push(local);
    }
    try {
      if (present.length > 0) await moveToTrash(present);
      trashedFirst = present.length;
    } catch (error) {
      const stillThere = (await Promise.all(present.map((f) => lstat(f).then(() => 1, () => 0)))).reduce<number>((a, b) => a + b, 0);
      return failed(plan, `could not move local files to the trash (${(error as Error).message}); ${present.length - stillThere} of ${present.length} are in the trash, nothing was restored`);
    }
  }

  const result = await runMapping(rclone, plan, hooks);
  const staged = await countFiles(mode.backupDir);
  const withCounts: RestoreResult = { ...result, kind: 'restore', trashed: trashedFirst + staged, ...(mode.kind === 'keep' ? { keptIn: mode.backupDir } : {}) };
  if (mode.kind === 'keep') return withCounts;
  if (staged === 0) {
    await rm(mode.backupDir, { recursive: true, force: true });
    return withCounts;
  }
  try {
    await moveToTrash([mode.backupDir]);
    return withCounts;
  } catch (error) {
    return {
      ...withCounts,
      status: 'failed',
      keptIn: mode.backupDir,
      reason: `${staged} replaced local files could not go to the trash (${(error as Error).message}); they are kept in ${mode.backupDir}`,
    };
  }
}

/** The local file behind a remote object name; in links mode "x.rclonelink" is the link "x". */
async function existingLocalPath(localDir: string, object: string, linksMode: boolean): Promise<string | undefined> {
  const direct = path.join(localDir, object);
  if (await lstat(direct).then(() => true, () => false)) return direct;
  if (linksMode && object.endsWith('.rclonelink')) {
    const link = direct.slice(0, -'.rclonelink'.length);
    if (await lstat(link).then((s) => s.isSymbolicLink(), () => false)) return link;
  }
  return undefined;
}

/** Files (not directories) below dir; 0 when it does not exist. */
export async function countFiles(dir: string): Promise<number> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return 0;
  }
  return entries.filter((e) => !e.isDirectory()).length;
}

function failed(plan: MappingPlan, reason: string): RestoreResult {
  return { kind: 'restore', trashed: 0, name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, status: 'failed', reason, copied: 0, deleted: 0, errors: [], durationMs: 0 };
}
