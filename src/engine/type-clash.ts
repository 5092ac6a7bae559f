import { buildPathCommandArgs, buildSyncArgs, buildTreeListArgs, type SyncArgsInput } from '../rclone/args.js';
import type { Rclone } from '../rclone/runner.js';
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
 * a file cannot be written where a folder is. A link kept as a link is a file `NAME.rclonelink`
 * on both sides (on a local-directory "cloud" too: see linksHereOnly), a name of its own.
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
 * files the last run sent, so the clash is cleared before anything is written.
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

/** What clearing needs of a run's hooks (a subset of run-mapping's MappingHooks). */
export interface ClashHooks {
  log: (line: string) => void;
  cancelSignal: AbortSignal;
  dryRun: boolean;
  removed?: ((file: string) => void) | undefined;
  recordedMtime?: ((file: string) => Promise<number | undefined>) | undefined;
}

/** What clearing did: names cleared (then the pass runs once more) and the remote files they took out; or why it would not. */
export interface Cleared {
  names: number;
  files: number;
  refused?: string;
}

/** Nothing cleared. */
export const NONE: Cleared = { names: 0, files: 0 };

/**
 * Pure: storage with real folders, where a file and a folder cannot share a name (unlike S3's
 * keys). Without poof's record of what was last sent (a new machine, a wiped state folder),
 * clashes are looked for before the first write there: `rclone serve sftp` 1.75 replaced a
 * folder and its files by the file renamed over it, and then reported the rename as failed.
 */
export function hasFolders(input: Pick<SyncArgsInput, 'backendType'>): boolean {
  return ['local', 'alias', 'sftp', 'webdav', 'ftp', 'smb'].includes(input.backendType);
}

/**
 * Pure: does a pass look for clashes before it writes, when no record has looked already?
 * Where a write over one does harm (mustClearFirst), and on folder storage over the network,
 * where the server decides what a write over a folder does (`rclone serve sftp` 1.75 replaced
 * the folder and its files, and reported a failure).
 */
export function looksBeforeWriting(input: Pick<SyncArgsInput, 'backendType'>): boolean {
  return mustClearFirst(input) || ['sftp', 'ftp', 'smb'].includes(input.backendType);
}

/**
 * Storage where a clash must be cleared before the first write, not after a failure: rclone's
 * WebDAV removes what a failed write left, so a file written over a folder removes the folder's
 * files, unkept (seen with rclone 1.60).
 */
export function mustClearFirst(input: Pick<SyncArgsInput, 'backendType'>): boolean {
  return input.backendType === 'webdav';
}

/**
 * Where a name is a file here and a folder on the remote (or the reverse), the remote's side is
 * taken out of the mirror as the sync itself would have, had it been able to: moved whole into
 * the run's history folder (history kept), or deleted (history off). With history off it is
 * refused, nothing changed, when that would delete files the excludes leave out (a sync never
 * deletes those) or more than rclone.maxDelete. Never in a dry run, and never for a copy-only
 * mapping (uploaded: the remote holds the only copy): there, where a write over the name does
 * harm (mustClearFirst), the run is refused instead.
 */
export async function clearTypeClashes(rclone: Rclone, plan: MappingPlan, hooks: ClashHooks): Promise<Cleared> {
  const input = plan.syncInput;
  if (!input || input.filesFrom !== undefined || input.filterFrom !== undefined || hooks.dryRun || hooks.cancelSignal.aborted) return NONE;
  // An uploaded mapping's remote copy is the only one: never moved aside (history is pruned),
  // but refused where a write over it does harm.
  const copyOnly = Boolean(plan.copyOnly || input.copyOnly);
  if (copyOnly && !mustClearFirst(input)) return NONE;
  const options = { timeoutMs: 30 * 60_000, cancelSignal: hooks.cancelSignal };
  const onPath = (command: string[]) => rclone.run(buildPathCommandArgs(input, command), options);
  const list = async (target: string, filtered = true): Promise<TreeEntry[] | undefined> => {
    const args = buildTreeListArgs(input, target, filtered, target === plan.localDir);
    const ran = await rclone.run(args, options);
    // Exit 3: not there yet (a first backup), nothing in the way. Exit 6 (a link that points
    // nowhere, say) still lists everything else.
    if (ran.exitCode === 3) return [];
    if (ran.exitCode !== 0 && ran.exitCode !== 6) return undefined;
    try {
      return JSON.parse(ran.stdout) as TreeEntry[];
    } catch {
      return undefined;
    }
  };
  // Where a write over a clash does harm, not knowing is a reason not to write.
  const unknown = (what: string): Cleared => (mustClearFirst(input) && !hooks.cancelSignal.aborted ? { ...NONE, refused: `${what} could not be listed, to look for a name that is a file on one side and a folder on the other` } : NONE);
  const [local, remote] = await Promise.all([list(plan.localDir), list(plan.remotePath)]);
  if (!local) return unknown(plan.localDir);
  if (!remote) return unknown(plan.remotePath);
  const clashes = findTypeClashes(local, remote);
  if (clashes.length === 0) return NONE;
  if (copyOnly) {
    const clash = clashes[0]!;
    return { ...NONE, refused: `${clash.path} on the remote is a ${clash.remoteIsDir ? 'folder where this is a file' : 'file where this is a folder'}, and an upload keeps what the remote holds: move one of them aside by hand` };
  }
  const names = clashes.map((clash) => clash.path).join(', ');
  const history = input.backupDir !== undefined;
  if (!history) {
    let deleting = 0;
    for (const clash of clashes) {
      // Everything under the name goes, excluded files too: a file cannot be written where a
      // folder with anything in it is. Counted whole, and never excluded files without history.
      const whole = clash.remoteIsDir ? (await list(`${plan.remotePath}/${clash.path}`, false))?.filter((entry) => !entry.IsDir).length : 1;
      if (whole === undefined) return unknown(`${plan.remotePath}/${clash.path}`);
      if (whole > clash.files.length) return { ...NONE, refused: `${clash.path} is a file here and a folder on the remote that holds files the excludes leave out; with history off they would be deleted: move them away on the remote, or turn history on` };
      deleting += whole;
    }
    const limit = input.tuning.maxDelete;
    if (limit !== undefined && deleting > limit) return { ...NONE, refused: `${names}: a file here and a folder on the remote (or the reverse); making way would delete ${deleting} files, more than rclone.maxDelete (${limit}) allows` };
  }
  const cleared = { names: 0, files: 0 };
  for (const clash of clashes) {
    if (hooks.cancelSignal.aborted) break;
    const from = `${plan.remotePath}/${clash.path}`;
    const to = `${input.backupDir}/${clash.path}`;
    const step = history ? ['moveto', from, to] : [clash.remoteIsDir ? 'purge' : 'deletefile', from];
    const ran = await onPath(step);
    if (hooks.cancelSignal.aborted) break;
    if (ran.exitCode !== 0) {
      // Not out of the way: the pass must not write over it.
      const why = ran.stderr.trim().split('\n').at(-1)?.replace(/^\S+ \S+ /, '') ?? '';
      return { ...cleared, refused: `${clash.path} on the remote is in the way (a ${clash.remoteIsDir ? 'folder where this is a file' : 'file where this is a folder'}) and could not be moved away: rclone ${step[0]}: ${why}; move or delete it on the remote by hand` };
    }
    // moveto takes a folder whole where the storage can (a rename); file by file, it leaves the
    // folders behind, empty: removed (and nothing else: rmdirs removes only empty folders).
    if (history && clash.remoteIsDir) await onPath(['rmdirs', from]);
    // A pass that failed on the name may have given the file its folder's time (rclone 1.66+
    // sets a folder's metadata on what stands at its name): the kept version gets back the time
    // the run recorded, which a restore checks.
    const recorded = history && !clash.remoteIsDir ? await hooks.recordedMtime?.(clash.path) : undefined;
    if (recorded !== undefined) await onPath(['touch', '--no-create', '--timestamp', new Date(recorded).toISOString().replace(/Z$/, ''), to]);
    hooks.log(`# ${plan.name}: ${clash.path} is a ${clash.remoteIsDir ? 'file here and a folder' : 'folder here and a file'} on the remote: ${history ? "moved into this run's history folder" : 'deleted (history is off)'}, to make way`);
    for (const file of clash.files) hooks.removed?.(file);
    cleared.names++;
    cleared.files += clash.files.length;
  }
  return cleared;
}

/**
 * Pure: the plan for the passes after clearing: with history off, the files it deleted count
 * against rclone.maxDelete, so the passes may delete only what is left of it.
 */
export function afterClearing(plan: MappingPlan, deleted: number): MappingPlan {
  const input = plan.syncInput;
  if (!input || deleted === 0 || input.backupDir !== undefined || input.tuning.maxDelete === undefined) return plan;
  const syncInput = { ...input, tuning: { ...input.tuning, maxDelete: Math.max(0, input.tuning.maxDelete - deleted) } };
  return { ...plan, syncInput, args: buildSyncArgs(syncInput) };
}
