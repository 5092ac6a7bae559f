import { statSync, type BigIntStats } from 'node:fs';
import { lookAtStoredCopy, type StoredCopy } from '../fs/stored-copy.js';
import { ENCODED_BY_RCLONE, rfc3339Nanos } from '../fs/local-tree.js';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { md5OfFile, md5OfSmallFileSync } from '../fs/hash.js';
import os from 'node:os';
import path from 'node:path';
import type { MappingPlan } from '../engine/plan.js';
import { nanosOf, type SentEntry, type SentRecord } from '../engine/sent-record.js';
import type { TransferResult } from '../engine/result.js';
import { buildMirrorListArgs, buildMirrorLookupArgs, buildPutFileArgs } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { mirrorDirOnDisk, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { diffStates, type FileState, type RunManifest, type TreeState } from './manifest.js';
import { putManifest, type ManifestCache, type ManifestWriter } from './store.js';
import { copyDict, dict } from '../dict.js';

export interface RecordContext {
  rclone: Rclone;
  remote: ResolvedRemote;
  cache: ManifestCache;
  runId: string;
  command: string;
  started: Date;
  excludes?: string[] | undefined;
  /** Mappings whose complete manifest this run wrote (filled in as they finish). */
  recorded: string[];
  /** The storage keeps modification times to the millisecond or better (local disks, S3, crypt over them). */
  exactTimes?: boolean;
  /**
   * The mirrors are plain files on this machine's disk (a local-directory "cloud", links
   * followed or skipped): a file sent is recorded from its stored copy itself.
   */
  localMirrors?: boolean;
}

/** What a mapping's transfer did to the mirror, as rclone reported it file by file. */
export interface TransferSeen {
  /** The mirror may have changed since its newest manifest (an unfinished run): list it all. */
  afterUnrecorded?: boolean;
  /** Files whose content rclone sent. */
  sent?: ReadonlySet<string>;
  /** Files whose time rclone set without sending them. */
  touched?: ReadonlySet<string>;
  /** Files rclone took out of the mirror (deleted, or moved into the run's folder). */
  removed?: ReadonlySet<string>;
  /** The folders of the run's later passes over the mapping. */
  passFolders?: string[];
  /** The local tree as rclone listed it just before the transfer, where a pass listed it. */
  source?: SentRecord | undefined;
  /**
   * The mirror held nothing before the transfer, where the record may be made from the source's
   * listing (exact times; asked only when this machine has no manifest).
   */
  emptyBefore?: boolean;
  /** The mirror held nothing before the transfer, known from the run's first questions (any storage). */
  mirrorWasEmpty?: boolean;
  /** Files rclone reported sent, hashed while it still ran (stateOfSent), by path. */
  early?: ReadonlyMap<string, Promise<FileState | undefined>> | undefined;
  /** The newest manifest, read while the transfer ran (else read here). */
  previous?: Promise<RunManifest | undefined> | undefined;
  /** Stored copies the transfer looked at in the mirror on this machine's disk (lstat), by path. */
  storedCopies?: ReadonlyMap<string, StoredCopy | undefined> | undefined;
}

/** A full listing of the mirror at least this often, whatever the runs in between reported. */
const RELIST_MS = 7 * 24 * 3600_000;

/**
 * After one mapping's transfer with history kept, write the run's manifest beside its folder of
 * replaced versions. A finished transfer that changed something records every file the mirror
 * now holds: the newest manifest with the files rclone removed taken out and the files it sent or
 * touched listed from the remote itself (so sizes and times are as stored), or, when the mirror
 * may hold changes no manifest saw (an unfinished run, other excludes, no manifest on this
 * machine, a week since the last), the whole mirror listed. A run that changed nothing writes
 * nothing and lists nothing. A failed or interrupted transfer is recorded as incomplete (no
 * files): its folder still holds what it replaced. Returns why the manifest of a finished
 * transfer could not be written, for the caller to fail the mapping: without it the run cannot
 * be restored.
 */
export async function recordRun(ctx: RecordContext, plan: MappingPlan, result: TransferResult, seen: TransferSeen = {}, writer?: ManifestWriter): Promise<RecordOutcome> {
  if (result.status === 'refused') return {};
  const { sent = new Set<string>(), touched = new Set<string>(), removed = new Set<string>(), passFolders = [] } = seen;
  const finished = result.status === 'ok' || result.status === 'partial';
  const base = { format: 1 as const, runId: ctx.runId, mapping: plan.name, started: ctx.started.toISOString(), command: ctx.command };
  if (!finished) {
    // Best effort and short: the remote may be the reason it failed (one try, 20 s at most; a
    // second try after the first timed out made a run against a dead server 30 s longer).
    const incomplete: RunManifest = { ...base, status: 'incomplete', ended: new Date().toISOString(), counts: { added: 0, changed: 0, deleted: result.deleted, keptBytes: 0 } };
    // A remote poof already found gone is not asked again; the run's folder reads as unfinished without it.
    if (result.remoteGone) writer?.stop();
    else await putManifest(ctx.rclone, ctx.remote, ctx.cache, incomplete, 20_000, writer, false).catch(() => undefined);
    return {};
  }
  const unreadable = result.unreadable ?? [];
  // A run that changed nothing writes nothing, unless an earlier run changed the mirror unrecorded.
  if (result.copied + result.deleted === 0 && touched.size === 0 && unreadable.length === 0 && !seen.afterUnrecorded && (await ctx.cache.latestId(plan.name))) return {};
  const previous = await (seen.previous ?? ctx.cache.latest(plan.name));
  const filter = filterKey(ctx.excludes);
  const lastListed = await ctx.cache.lastListing(plan.name);
  // A first backup into an empty mirror: the mirror is what rclone sent, recorded from the listing
  // of the source like any derived manifest, with no listing of the whole mirror after it.
  const fromEmpty = Boolean(seen.emptyBefore && (seen.source || mirrorOnDisk(ctx, plan)) && !previous && !seen.afterUnrecorded);
  // A record that lists links kept as links (or not) where this run keeps them otherwise: only a full listing says what the mirror holds.
  const sameLinks = Boolean(previous?.links) === Boolean(ctx.remote.links);
  const derive = fromEmpty || Boolean(previous?.files && sameLinks && !seen.afterUnrecorded && lastListed?.filter === filter && Date.now() - Date.parse(lastListed.at) < RELIST_MS);
  const derived = derive;
  // A first backup sends everything: hashing it all would read every file a second time (a
  // second more for 178 MB here), so its files get their hashes from later runs that send them.
  let files = derive ? await mirrorAfter(ctx, plan, previous?.files ?? dict(), { sent, touched, removed, unreadable, source: seen.source, early: seen.early, storedCopies: seen.storedCopies, hash: !fromEmpty }) : undefined;
  if (typeof files === 'string') return { problem: `the run's record could not be written: ${files}` };
  // As good as a full listing: the next runs derive theirs from it.
  if (files && fromEmpty) await ctx.cache.saveListing(plan.name, filter);
  if (!files) {
    const listed = await listTree(ctx, plan.remotePath, ctx.excludes);
    if (typeof listed === 'string') return { problem: `the run's record could not be written: ${listed}` };
    files = withKnownHashes(listed, previous?.files);
    await ctx.cache.saveListing(plan.name, filter);
  }
  // What this run moved into its folders, as stored: listed only where a version has to be put
  // back; otherwise the versions the newest manifest had of the files replaced or removed.
  const moved: TreeState = dict();
  const folders = [plan.syncInput?.backupDir ?? '', ...passFolders];
  // Into an empty mirror the transfer's first pass replaced nothing: its folder is empty, and not
  // listed (a later pass over the same mapping may have replaced what the first sent).
  const intoEmpty = fromEmpty || Boolean(seen.mirrorWasEmpty);
  if (intoEmpty || unreadable.length > 0 || !previous?.files) {
    for (const folder of intoEmpty ? passFolders : folders) {
      const listedFolder = await listTree(ctx, folder, []);
      if (typeof listedFolder === 'string') return { problem: `the run's record could not be written: ${listedFolder}` };
      for (const [file, state] of Object.entries(listedFolder)) moved[`${folder}\u0000${file}`] = state;
    }
  } else if (previous?.files) {
    for (const file of new Set([...sent, ...removed])) {
      const before = previous.files[file];
      if (before) moved[`${folders[0]}\u0000${file}`] = before;
    }
  }
  // rclone (1.60) moves a file into the run's folder before it copies the new one; when the copy
  // failed because the file kept changing, the mirror has none. Put the version it had back, so
  // the mirror and this run's record still hold it (and download brings it back).
  for (const file of unreadable) {
    if (files[file]) continue;
    const folder = folders.find((f) => moved[`${f}\u0000${file}`]);
    if (!folder) continue;
    const back = await ctx.rclone.run(buildPutFileArgs(ctx.remote.configFile, `${folder}/${file}`, `${plan.remotePath}/${file}`), { timeoutMs: 30 * 60_000 });
    if (back.exitCode !== 0) return { problem: `${file} kept changing and its previous version could not be put back into the mirror (rclone exited ${back.exitCode}: ${lastErrorLine(back.stderr)}); it is kept in ${folder}` };
    files[file] = moved[`${folder}\u0000${file}`]!;
  }
  const keptBytes = Object.values(moved).reduce((sum, f) => sum + f.size, 0);
  // The bytes of the files sent, as stored: rclone's own byte count includes the moves into the
  // run's folder on some versions (1.60) and not on others (1.75).
  const sentBytes = [...sent].reduce((sum, file) => sum + (files[file]?.size ?? 0), 0);
  const before = previous?.files;
  // A derived manifest differs from the one before only in the files rclone reported.
  const reported = derived ? [...sent, ...touched, ...removed, ...unreadable] : undefined;
  const changes = before ? diffStates(before, files, reported) : { added: Object.keys(files), changed: [], deleted: [] };
  const manifest: RunManifest = {
    ...base,
    status: 'complete',
    ended: new Date().toISOString(),
    counts: { added: changes.added.length, changed: changes.changed.length, deleted: changes.deleted.length, keptBytes },
    files,
    ...(ctx.remote.links ? { links: true as const } : {}),
  };
  try {
    await putManifest(ctx.rclone, ctx.remote, ctx.cache, manifest, undefined, writer);
  } catch (error) {
    return { problem: `the run's record could not be written (${(error as Error).message})`, keptBytes, keptFiles: Object.keys(moved).length, sentBytes };
  }
  return { keptBytes, keptFiles: Object.keys(moved).length, wrote: true, sentBytes };
}

/** Pure: a listed tree with the hashes the previous record had of files unchanged since (same size and time). */
export function withKnownHashes(listed: TreeState, before: TreeState | undefined): TreeState {
  if (!before) return listed;
  const out: TreeState = dict();
  for (const [file, state] of Object.entries(listed)) {
    const then = before[file];
    out[file] = then?.md5 && then.size === state.size && then.mtime === state.mtime ? { ...state, md5: then.md5 } : state;
  }
  return out;
}

/** Pure: which excludes a full listing of a mirror was made with. */
function filterKey(excludes: string[] | undefined): string {
  return JSON.stringify(excludes ?? []);
}

/**
 * The mirror after a transfer, from the mirror before it (the newest manifest) and what rclone
 * reported: removed files out, and the files sent or touched as stored. On storage that keeps
 * times exactly, a file whose size and time (to the nanosecond) are still those of the listing
 * just before the transfer is stored as listed: rclone sent that state, by the same test of size
 * and time it uses to tell files apart. The rest (and files that kept changing) as the remote
 * lists them, in one listing of exactly those files. Undefined when that listing misses a file
 * rclone said it sent: then only a full listing can say what the mirror holds.
 */
async function mirrorAfter(
  ctx: RecordContext,
  plan: MappingPlan,
  before: TreeState,
  seen: Pick<TransferSeen, 'source' | 'early' | 'storedCopies'> & { sent: ReadonlySet<string>; touched: ReadonlySet<string>; removed: ReadonlySet<string>; unreadable: string[]; hash?: boolean },
): Promise<TreeState | string | undefined> {
  // rclone removed a file the newest manifest does not know: the mirror held more than this
  // machine recorded (another machine backed this mapping up meanwhile). Only a listing can say.
  if ([...seen.removed].some((file) => !before[file])) return undefined;
  const files: TreeState = copyDict(before);
  for (const file of [...seen.removed, ...seen.unreadable]) delete files[file];
  const ask: string[] = [];
  const candidates = [...new Set([...seen.sent, ...seen.touched])].sort();
  const recorded = new Map<string, FileState>();
  const unreadable = new Set(seen.unreadable);
  // Most were hashed while rclone still ran (seen.early). Of the rest, small files are looked at
  // synchronously (stateOfSmallSent), larger ones a few at a time.
  const hash = seen.hash !== false;
  const waiting: Array<Promise<unknown>> = [];
  const large: Array<[string, SentEntry]> = [];
  const disk = mirrorOnDisk(ctx, plan);
  const largeStored: string[] = [];
  for (const file of candidates) {
    if (unreadable.has(file)) continue;
    const listed = ctx.exactTimes ? seen.source?.[file] : undefined;
    if (!listed) {
      if (disk && !ENCODED_BY_RCLONE.test(file)) {
        // Looked at by the transfer, unless rclone also took it out or set its time (another pass).
        const looked = seen.storedCopies?.has(file) && !seen.removed.has(file) && !seen.touched.has(file) ? { info: seen.storedCopies.get(file) } : undefined;
        const state = storedState(`${disk}/${file}`, hash, looked);
        if (state === 'large') largeStored.push(file);
        else if (state) recorded.set(file, state);
      }
      continue;
    }
    const early = seen.early?.get(file);
    if (early) waiting.push(early.then((state) => state && recorded.set(file, state)));
    else if (listed[0] <= SMALL_FILE) {
      const state = stateOfSmallSent(path.join(plan.localDir, file), listed, hash);
      if (state) recorded.set(file, state);
    } else large.push([file, listed]);
  }
  for (let i = 0; i < largeStored.length; i += 16) {
    await Promise.all(
      largeStored.slice(i, i + 16).map(async (file) => {
        const state = await stateInMirror(`${disk}/${file}`);
        if (state) recorded.set(file, state);
      }),
    );
  }
  for (let i = 0; i < large.length; i += 16) {
    await Promise.all(large.slice(i, i + 16).map(async ([file, listed]) => {
      const state = await stateOfSent(plan.localDir, file, listed, hash);
      if (state) recorded.set(file, state);
    }));
  }
  await Promise.all(waiting);
  for (const file of candidates) {
    const state = recorded.get(file);
    if (state) files[file] = state;
    else ask.push(file);
  }
  ask.push(...seen.unreadable);
  if (ask.length === 0) return files;
  const listed = await listTree(ctx, plan.remotePath, [], ask);
  if (typeof listed === 'string') return listed;
  for (const file of ask) {
    const state = listed[file];
    if (state) files[file] = state;
    else if (!unreadable.has(file)) return undefined;
  }
  return files;
}

/**
 * A file rclone reported sent, as stored, where the storage keeps times exactly: if it still has
 * the size and time (to the nanosecond) of the listing just before the transfer, rclone sent that
 * state. Hashed, then seen unchanged once more (ctime too), the hash is of the content rclone
 * sent. Undefined when the file changed since the listing: the remote is asked instead.
 */
export async function stateOfSent(localDir: string, file: string, listed: SentEntry, hash = true): Promise<FileState | undefined> {
  const local = path.join(localDir, file);
  if (listed[0] <= SMALL_FILE) return stateOfSmallSent(local, listed, hash);
  const still = unchangedSince(listed);
  const now = await stat(local, { bigint: true }).catch(() => undefined);
  if (!still(now)) return undefined;
  if (!hash) return { size: listed[0], mtime: Date.parse(listed[1]) };
  const md5 = await md5OfFile(local, listed[0]).catch(() => undefined);
  const after = md5 ? await stat(local, { bigint: true }).catch(() => undefined) : undefined;
  return { size: listed[0], mtime: Date.parse(listed[1]), ...(md5 && still(after) && after!.ctimeNs === now!.ctimeNs ? { md5 } : {}) };
}

/**
 * stateOfSent of a small file (most are), with synchronous calls: a stat, a read and a stat cost
 * a tenth of the same calls as promises (each a trip through the thread pool), and block the
 * event loop for microseconds.
 */
function stateOfSmallSent(local: string, listed: SentEntry, hash: boolean): FileState | undefined {
  const still = unchangedSince(listed);
  const now = statSyncOrUndefined(local);
  if (!still(now)) return undefined;
  if (!hash) return { size: listed[0], mtime: Date.parse(listed[1]) };
  const md5 = md5OfSmallFileSync(local);
  const after = md5 ? statSyncOrUndefined(local) : undefined;
  return { size: listed[0], mtime: Date.parse(listed[1]), ...(md5 && still(after) && after!.ctimeNs === now!.ctimeNs ? { md5 } : {}) };
}

/** Pure: a test that a file's stat still shows the listed size and time (to the nanosecond). */
function unchangedSince(listed: SentEntry): (s: BigIntStats | undefined) => boolean {
  const listedNs = nanosOf(listed[1]);
  return (s) => Boolean(s?.isFile() && Number(s.size) === listed[0] && s.mtimeNs === listedNs);
}

/**
 * Where a mapping's mirror is on this machine's disk, when poof may read what a run stored from
 * it: a local-directory "cloud" and a name rclone stores as it is.
 */
function mirrorOnDisk(ctx: RecordContext, plan: MappingPlan): string | undefined {
  return ctx.localMirrors ? mirrorDirOnDisk(ctx.remote, plan.name) : undefined;
}

/**
 * A file as the run stored it in a mirror on this machine's disk: its size and time, and (when
 * asked) the MD5 of the stored bytes themselves, kept only if the copy did not change while it
 * was read. Undefined when it is not a plain file there: the remote is asked instead. 'large':
 * a file to hash through stateInMirror, a few at a time. `looked`: its lstat by the transfer.
 */
function storedState(stored: string, hash: boolean, looked?: { info: StoredCopy | undefined }): FileState | 'large' | undefined {
  // Looked at by the transfer already: nothing has changed the mirror since (the run holds the lock).
  const before = looked ? looked.info : lookAtStoredCopy(stored);
  if (!before) return undefined;
  if (!hash) return stateOfStat(before);
  if (before.size > BigInt(SMALL_FILE)) return 'large';
  return hashedIfSteady(stored, before, md5OfSmallFileSync(stored));
}

/** storedState of a large file, hashed. */
async function stateInMirror(stored: string): Promise<FileState | undefined> {
  const before = lookAtStoredCopy(stored);
  if (!before) return undefined;
  return hashedIfSteady(stored, before, await md5OfFile(stored, Number(before.size)).catch(() => undefined));
}

function stateOfStat(info: Pick<StoredCopy, 'size' | 'mtimeNs'>): FileState {
  return { size: Number(info.size), mtime: Date.parse(rfc3339Nanos(info.mtimeNs)) };
}

/** The state as stat'ed before the read, with the MD5 read only if the file did not change meanwhile. */
function hashedIfSteady(stored: string, before: StoredCopy, md5: string | undefined): FileState {
  const state = stateOfStat(before);
  return md5 && sameStat(before, lookAtStoredCopy(stored)) ? { ...state, md5 } : state;
}

function sameStat(a: StoredCopy, b: StoredCopy | undefined): boolean {
  return Boolean(b && b.size === a.size && b.mtimeNs === a.mtimeNs && b.ctimeNs === a.ctimeNs);
}

/** Files up to this size are hashed with synchronous calls (stateOfSent). */
const SMALL_FILE = 256 * 1024;

function statSyncOrUndefined(file: string): BigIntStats | undefined {
  try {
    return statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export interface RecordOutcome {
  /** Why the manifest of a finished transfer is missing: the run cannot be restored. */
  problem?: string;
  /** What the run moved into its folder of replaced versions. */
  keptBytes?: number;
  keptFiles?: number;
  /** The bytes of the files rclone sent, from their stored sizes. */
  sentBytes?: number;
  /** A complete manifest was written: the run is restorable, and retention may apply. */
  wrote?: boolean;
}

/**
 * Every file below a remote path with size and time; a folder that does not exist is empty.
 * With `only`: just those files, each looked up by name (--files-from, --no-traverse).
 */
async function listTree(ctx: RecordContext, remotePath: string, excludes: string[] | undefined, only?: string[]): Promise<TreeState | string> {
  const scratch = only ? await mkdtemp(path.join(os.tmpdir(), 'poof-record-')) : undefined;
  try {
    let args = buildMirrorListArgs(ctx.remote.configFile, remotePath, excludes, Boolean(ctx.remote.tuning.fastList));
    if (scratch && only) {
      const list = path.join(scratch, 'files.list');
      await writeFile(list, `${only.join('\n')}\n`);
      args = buildMirrorLookupArgs(ctx.remote.configFile, remotePath, list, only.length, ctx.remote.storageType);
    }
    const listed = await ctx.rclone.run(args, { timeoutMs: 30 * 60_000 });
    if (listed.exitCode === 3) return dict();
    if (listed.exitCode !== 0) return `listing ${remotePath} failed (rclone exited ${listed.exitCode}: ${lastErrorLine(listed.stderr)})`;
    const files: TreeState = dict();
    for (const entry of JSON.parse(listed.stdout || '[]') as Array<{ Path: string; Size: number; ModTime: string }>) {
      files[entry.Path] = { size: entry.Size, mtime: Date.parse(entry.ModTime) };
    }
    return files;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
