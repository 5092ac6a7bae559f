import { buildPathCommandArgs, buildTreeListArgs } from '../rclone/args.js';
import type { Rclone } from '../rclone/runner.js';
import type { MappingHooks } from './run-mapping.js';
import type { MappingPlan } from './plan.js';

/** One entry of `rclone lsjson -R`. */
export interface TreeEntry {
  Path: string;
  IsDir: boolean;
}

/** A name that is a file on one side and a folder on the other. */
export interface TypeClash {
  path: string;
  /** What the remote holds under that name: a folder (here: a file), or a file (here: a folder). */
  remoteIsDir: boolean;
  /** The remote's files it takes out of the mirror: the folder's files, or the file itself. */
  files: string[];
}

/**
 * Pure: the names that are a file here and a folder on the remote, or the reverse, outermost
 * only (what is inside a clashing folder goes with it). rclone cannot sync over such a name on
 * storage with real folders (a local disk, SFTP): it writes the new files before it deletes, and
 * a file cannot be written where a folder is.
 */
export function findTypeClashes(local: TreeEntry[], remote: TreeEntry[]): TypeClash[] {
  const here = new Map(local.map((entry) => [entry.Path, entry.IsDir]));
  const clashes: TypeClash[] = [];
  const sorted = [...remote].sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
  for (const entry of sorted) {
    const isDirHere = here.get(entry.Path);
    if (isDirHere === undefined || isDirHere === entry.IsDir) continue;
    if (clashes.some((clash) => entry.Path.startsWith(`${clash.path}/`))) continue;
    const files = entry.IsDir ? sorted.filter((inner) => !inner.IsDir && inner.Path.startsWith(`${entry.Path}/`)).map((inner) => inner.Path) : [entry.Path];
    clashes.push({ path: entry.Path, remoteIsDir: entry.IsDir, files });
  }
  return clashes;
}

/**
 * Pure: could rclone have failed on such a name? Its error then is one it does not classify
 * (exit 1: "is a directory", "not a directory", SFTP's "Failure") or a not-found (3, 4: WebDAV's
 * 404 for a file written over a folder); never a lost connection (5) or a fatal error (7).
 */
export function failedOnClash(rcloneExit: number | undefined): boolean {
  return rcloneExit === 1 || rcloneExit === 3 || rcloneExit === 4;
}

/**
 * Pure: could a name be a file in one tree and a folder in the other? Only when a file was added
 * and another removed whose name is a folder above it, or the reverse. From poof's record of the
 * files the last run sent, before anything is written: a WebDAV server (rclone serve webdav)
 * answers a file written over a folder by removing the folder's files, so there the clash must
 * be cleared before the first write, not after a failure.
 */
export function mayClash(now: Record<string, unknown>, before: Record<string, unknown>): boolean {
  const added = Object.keys(now).filter((name) => !Object.hasOwn(before, name));
  if (added.length === 0) return false;
  const removed = Object.keys(before).filter((name) => !Object.hasOwn(now, name));
  if (removed.length === 0) return false;
  const folders = (names: string[]) => new Set(names.flatMap((name) => name.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
  const removedSet = new Set(removed);
  const addedSet = new Set(added);
  return [...folders(added)].some((folder) => removedSet.has(folder)) || [...folders(removed)].some((folder) => addedSet.has(folder));
}

/**
 * A backup that failed where a name is a file here and a folder on the remote (or the reverse):
 * the remote's side is taken out of the mirror as the sync itself would have, had it been able
 * to: moved into the run's history folder (history kept), or deleted (history off, within
 * rclone.maxDelete). Says how many names were cleared (the caller then tries once more) and how
 * many of the remote's files they took out of the mirror.
 * Never for a copy-only mapping (uploaded: the remote holds the only copy) or a dry run.
 */
export async function clearTypeClashes(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks): Promise<{ names: number; files: number }> {
  const none = { names: 0, files: 0 };
  const input = plan.syncInput;
  if (!input || plan.copyOnly || input.copyOnly || input.filesFrom !== undefined || input.filterFrom !== undefined || hooks.dryRun || hooks.cancelSignal.aborted) return none;
  const list = async (target: string): Promise<TreeEntry[] | undefined> => {
    const ran = await rclone.run(buildTreeListArgs(input, target), { timeoutMs: 30 * 60_000, cancelSignal: hooks.cancelSignal });
    if (ran.exitCode !== 0) return undefined;
    try {
      return JSON.parse(ran.stdout) as TreeEntry[];
    } catch {
      return undefined;
    }
  };
  const [local, remote] = await Promise.all([list(plan.localDir), list(plan.remotePath)]);
  if (!local || !remote) return none;
  const clashes = findTypeClashes(local, remote);
  if (clashes.length === 0) return none;
  const limit = input.backupDir === undefined ? input.tuning.maxDelete : undefined;
  const deleting = clashes.reduce((sum, clash) => sum + clash.files.length, 0);
  if (limit !== undefined && deleting > limit) {
    hooks.log(`# ${plan.name}: ${clashes.map((c) => c.path).join(', ')}: a file here and a folder on the remote (or the reverse); not cleared: it would delete ${deleting} files, over rclone.maxDelete (${limit})`);
    return none;
  }
  // Everything under the name goes, excluded files too (a sync leaves those): a file cannot be
  // written where a folder with anything in it is.
  const cleared = { names: 0, files: 0 };
  for (const clash of clashes) {
    if (hooks.cancelSignal.aborted) break;
    const from = `${plan.remotePath}/${clash.path}`;
    const step = input.backupDir !== undefined ? ['moveto', from, `${input.backupDir}/${clash.path}`] : [clash.remoteIsDir ? 'purge' : 'deletefile', from];
    const ran = await rclone.run(buildPathCommandArgs(input.configFile, step), { timeoutMs: 30 * 60_000, cancelSignal: hooks.cancelSignal });
    if (ran.exitCode !== 0) {
      hooks.log(`# ${plan.name}: rclone ${step[0]} ${clash.path} failed: ${ran.stderr.trim().split('\n').at(-1) ?? ''}`);
      break;
    }
    // moveto takes a folder whole where the storage can (a rename); file by file, it leaves the
    // folders behind, empty: removed (and nothing else: rmdirs removes only empty folders).
    if (input.backupDir !== undefined && clash.remoteIsDir) await rclone.run(buildPathCommandArgs(input.configFile, ['rmdirs', from]), { timeoutMs: 30 * 60_000, cancelSignal: hooks.cancelSignal });
    hooks.log(`# ${plan.name}: ${clash.path} is a ${clash.remoteIsDir ? 'file here and a folder' : 'folder here and a file'} on the remote: ${input.backupDir !== undefined ? "moved into this run's history folder" : 'deleted (history is off)'}, to make way`);
    for (const file of clash.files) hooks.removed?.(file);
    cleared.names++;
    cleared.files += clash.files.length;
  }
  return cleared;
}
