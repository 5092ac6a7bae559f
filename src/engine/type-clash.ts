import { lstat, mkdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { entriesBelow } from '../fs/files-below.js';
import { buildPathCommandArgs, buildSyncArgs, buildTreeListArgs, type SyncArgsInput } from '../rclone/args.js';
import type { Rclone } from '../rclone/runner.js';
import type { MappingPlan } from './plan.js';

/** One entry of `rclone lsjson -R`. */
export interface TreeEntry {
  Path: string;
  IsDir: boolean;
}

/** What a name is: a folder, a file, or (links kept as links) a link. */
export type EntryKind = 'folder' | 'file' | 'link';

/** A name that is a file on one side and a folder on the other (or, links kept as links, a link on one side). */
export interface TypeClash {
  /** The remote's name (a link's is `NAME.rclonelink`). */
  path: string;
  /** What the remote holds under that name. */
  remote: EntryKind;
  /** What is here under it. */
  here: EntryKind;
  /** The remote's files it takes out of the mirror: the folder's files, or the file itself. */
  files: string[];
}

/**
 * Pure: the names that are a file here and a folder on the remote, or the reverse, outermost
 * only (what is inside a clashing folder goes with it). rclone cannot sync over such a name on
 * storage with real folders (a local disk, SFTP): it writes the new files before it deletes, and
 * a file cannot be written where a folder is. With links kept as links (`links`), a link is
 * listed as `NAME.rclonelink` and stands for NAME, a kind of its own: on a local disk a stored
 * link is NAME itself, and a file written there goes through it (rclone 1.60), a link written
 * there replaces the file before it is kept (1.60 and 1.75).
 */
export function findTypeClashes(local: TreeEntry[], remote: TreeEntry[], links = false): TypeClash[] {
  const isLink = (entry: TreeEntry) => links && !entry.IsDir && entry.Path.endsWith(LINK_SUFFIX);
  const key = (entry: TreeEntry) => (isLink(entry) ? entry.Path.slice(0, -LINK_SUFFIX.length) : entry.Path);
  const kind = (entry: TreeEntry): EntryKind => (entry.IsDir ? 'folder' : isLink(entry) ? 'link' : 'file');
  const here = new Map(local.map((entry) => [key(entry), kind(entry)]));
  const clashes: TypeClash[] = [];
  const sorted = [...remote].sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
  for (const entry of sorted) {
    const kindHere = here.get(key(entry));
    if (kindHere === undefined || kindHere === kind(entry)) continue;
    if (clashes.some((clash) => entry.Path.startsWith(`${clash.path}/`))) continue;
    const files = entry.IsDir ? sorted.filter((inner) => !inner.IsDir && inner.Path.startsWith(`${entry.Path}/`)).map((inner) => inner.Path) : [entry.Path];
    clashes.push({ path: entry.Path, remote: kind(entry), here: kindHere, files });
  }
  return clashes;
}

const LINK_SUFFIX = '.rclonelink';

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
export function looksBeforeWriting(input: Pick<SyncArgsInput, 'backendType' | 'symlinks' | 'crypt'>): boolean {
  return mustClearFirst(input) || ['sftp', 'ftp', 'smb'].includes(input.backendType);
}

/**
 * Storage where a clash must be cleared before the first write, not after a failure: rclone's
 * WebDAV removes what a failed write left, so a file written over a folder removes the folder's
 * files, unkept (seen with rclone 1.60); on a local disk with links kept as links, a folder
 * written over a stored link is written through it, outside the mirror.
 */
export function mustClearFirst(input: Pick<SyncArgsInput, 'backendType' | 'symlinks' | 'crypt'>): boolean {
  // A local-directory "cloud" is an alias of a path; through crypt, a link is stored as a file.
  const linksOnDisk = input.symlinks === 'links' && !input.crypt && (input.backendType === 'local' || input.backendType === 'alias');
  return input.backendType === 'webdav' || linksOnDisk;
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
  const onPath = (command: string[]) => rclone.run(buildPathCommandArgs(input.configFile, command, input.symlinks), options);
  const list = async (target: string, filtered = true): Promise<TreeEntry[] | undefined> => {
    const args = filtered ? buildTreeListArgs(input, target) : buildTreeListArgs({ configFile: input.configFile, symlinks: input.symlinks }, target, false);
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
  const clashes = findTypeClashes(local, remote, input.symlinks === 'links');
  if (clashes.length === 0) return NONE;
  if (copyOnly) {
    const clash = clashes[0]!;
    return { ...NONE, refused: `${shownName(clash)} on the remote is a ${clash.remote} where this is a ${clash.here}, and an upload keeps what the remote holds: move one of them aside by hand` };
  }
  const names = clashes.map((clash) => clash.path).join(', ');
  const history = input.backupDir !== undefined;
  if (!history) {
    let deleting = 0;
    for (const clash of clashes) {
      // Everything under the name goes, excluded files too: a file cannot be written where a
      // folder with anything in it is. Counted whole, and never excluded files without history.
      const whole = clash.remote === 'folder' ? (await list(`${plan.remotePath}/${clash.path}`, false))?.filter((entry) => !entry.IsDir).length : 1;
      if (whole === undefined) return unknown(`${plan.remotePath}/${clash.path}`);
      if (whole > clash.files.length) return { ...NONE, refused: `${clash.path} is a file here and a folder on the remote that holds files the excludes leave out; with history off they would be deleted: move them away on the remote, or turn history on` };
      deleting += whole;
    }
    const limit = input.tuning.maxDelete;
    if (limit !== undefined && deleting > limit) return { ...NONE, refused: `${names}: a file here and a folder on the remote (or the reverse, or a link kept as a link on one side); making way would delete ${deleting} files, more than rclone.maxDelete (${limit}) allows` };
  }
  const cleared = { names: 0, files: 0 };
  for (const clash of clashes) {
    if (hooks.cancelSignal.aborted) break;
    const from = `${plan.remotePath}/${clash.path}`;
    const to = `${input.backupDir}/${clash.path}`;
    const what = shownName(clash);
    const onDisk = clash.remote === 'link' ? storedLinkOnDisk(plan, from, history ? to : undefined) : undefined;
    const step = history ? ['moveto', from, to] : [clash.remote === 'folder' ? 'purge' : 'deletefile', from];
    const how = onDisk ? `${history ? 'move' : 'delete'} on disk` : `rclone ${step[0]}`;
    let failure: string | undefined;
    if (onDisk) failure = await onDisk();
    else {
      const ran = await onPath(step);
      if (ran.exitCode !== 0) failure = ran.stderr.trim().split('\n').at(-1)?.replace(/^\S+ \S+ /, '') ?? '';
    }
    if (hooks.cancelSignal.aborted) break;
    // Not out of the way: the pass must not write over it.
    if (failure !== undefined) return { ...cleared, refused: `${what} on the remote is in the way (a ${clash.remote} where this is a ${clash.here}) and could not be moved away: ${how}: ${failure}; move or delete it on the remote by hand` };
    // moveto takes a folder whole where the storage can (a rename); file by file, it leaves the
    // folders behind, empty: removed (and nothing else: rmdirs removes only empty folders).
    if (history && clash.remote === 'folder') await onPath(['rmdirs', from]);
    // A pass that failed on the name may have given the file its folder's time (rclone 1.66+
    // sets a folder's metadata on what stands at its name): the kept version gets back the time
    // the run recorded, which a restore checks.
    const recorded = history && clash.remote === 'file' ? await hooks.recordedMtime?.(clash.path) : undefined;
    if (recorded !== undefined) await onPath(['touch', '--no-create', '--timestamp', new Date(recorded).toISOString().replace(/Z$/, ''), to]);
    hooks.log(`# ${plan.name}: ${what} is a ${clash.here} here and a ${clash.remote} on the remote: ${history ? "moved into this run's history folder" : 'deleted (history is off)'}, to make way`);
    for (const file of clash.files) hooks.removed?.(file);
    cleared.names++;
    cleared.files += clash.files.length;
  }
  return cleared;
}

/** Pure: a clash's name as a person knows it: a link kept as a link is NAME on the storage's disk, NAME.rclonelink to rclone. */
function shownName(clash: TypeClash): string {
  return clash.remote === 'link' ? `${clash.path.slice(0, -LINK_SUFFIX.length)} (a link kept as a link)` : clash.path;
}

/**
 * On a local-directory "cloud" with links kept as links, the stored link `remoteName`
 * (`NAME.rclonelink`) moved (to `keptName`) or deleted on disk, as rclone would: a rename or an
 * unlink of the link itself, never of what it points to (rclone 1.60 can do neither by name).
 * Returns why it failed. Undefined where the tree is not on this disk.
 */
function storedLinkOnDisk(plan: MappingPlan, remoteName: string, keptName: string | undefined): (() => Promise<string | undefined>) | undefined {
  const onDisk = (name: string) => diskPath(plan, name.slice(0, -LINK_SUFFIX.length));
  const from = onDisk(remoteName);
  const to = keptName === undefined ? undefined : onDisk(keptName);
  if (!from || (keptName !== undefined && !to)) return undefined;
  return async () => {
    try {
      if (!(await lstat(from)).isSymbolicLink()) return `${from} is not a link`;
      if (!to) {
        await unlink(from);
        return undefined;
      }
      await mkdir(path.dirname(to), { recursive: true });
      // Never over a version kept already.
      if (await lstat(to).then(() => true, () => false)) return `${to} is there already`;
      await rename(from, to);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
}

/** Pure: where a remote path below the tree's root is on this machine's disk (a local-directory "cloud"). */
function diskPath(plan: MappingPlan, remotePath: string): string | undefined {
  const disk = plan.treeOnDisk;
  return disk && remotePath.startsWith(`${disk.root}/`) ? path.join(disk.dir, remotePath.slice(disk.root.length + 1)) : undefined;
}

/**
 * A local-directory "cloud" whose mirror may hold links kept as links (from runs with "symlinks":
 * "links"), backed up now with links followed or skipped: rclone then follows stored links too,
 * so a sync writes through them, and moves or deletes the files of a folder one points to,
 * outside the backup (seen with rclone 1.60 and 1.75). Before anything is written, each stored
 * link is moved into the run's history folder on disk (the link itself, never what it points
 * to), or deleted with history off (counted against rclone.maxDelete). An upload's copy is the
 * only one: refused instead.
 */
export async function clearStoredLinks(plan: MappingPlan, hooks: ClashHooks): Promise<Cleared> {
  const input = plan.syncInput;
  const mirror = diskPath(plan, plan.remotePath);
  if (!input || !mirror || input.symlinks === 'links' || hooks.dryRun || hooks.cancelSignal.aborted) return NONE;
  const links = (await entriesBelow(mirror)).filter((entry) => entry.kind === 'link').map((entry) => entry.rel).sort();
  if (links.length === 0) return NONE;
  const first = `${links[0]}${links.length > 1 ? ` and ${links.length - 1} more` : ''}`;
  const why = `the remote copy holds links kept as links (${first}), from when "symlinks" was "links"; rclone would write through them`;
  if (plan.copyOnly || input.copyOnly) return { ...NONE, refused: `${why}, and an upload keeps what the remote holds: set "symlinks": "links" again, or move them aside on the remote by hand` };
  const history = input.backupDir !== undefined;
  const limit = input.tuning.maxDelete;
  if (!history && limit !== undefined && links.length > limit) return { ...NONE, refused: `${why}; deleting them would delete ${links.length} files, more than rclone.maxDelete (${limit}) allows` };
  const cleared = { names: 0, files: 0 };
  for (const rel of links) {
    if (hooks.cancelSignal.aborted) break;
    const name = `${rel}${LINK_SUFFIX}`;
    const move = storedLinkOnDisk(plan, `${plan.remotePath}/${name}`, history ? `${input.backupDir}/${name}` : undefined);
    const failure = move ? await move() : 'not on this disk';
    if (failure !== undefined) return { ...cleared, refused: `${rel} on the remote is a link kept as a link, from when "symlinks" was "links", and could not be moved away: ${failure}; move or delete it on the remote by hand` };
    hooks.log(`# ${plan.name}: ${rel} on the remote is a link kept as a link, from when "symlinks" was "links": ${history ? "moved into this run's history folder" : 'deleted (history is off)'}, so that nothing is written through it`);
    cleared.names++;
    cleared.files++;
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
