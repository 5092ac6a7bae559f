import { rm, rmdir } from 'node:fs/promises';
import { entriesBelow } from '../fs/files-below.js';
import path from 'node:path';
import { RunFailedError } from '../errors.js';
import { baseFlags } from '../rclone/args.js';
import { directoryNotFound } from '../rclone/exit-codes.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import { selectKept, type KeepPolicy } from '../versions/retention.js';
import { timeOfRunId } from '../versions/run-id.js';
import { SYNC_KEPT_DIR } from './bisync.js';

/**
 * What one `poof sync` kept of one mapping: what it replaced or deleted, each side's in a folder
 * on its own side (`<data dir>/sync-kept/<kept id>/NAME` here, `.poof-sync-kept/<kept id>/NAME`
 * on the remote). A kept id is the run id and 4 hex digits (two syncs in one second differ).
 */
export interface SyncKeptRun {
  keptId: string;
  runId: string;
  /** path in the mapping -> size, in this machine's keep folder. */
  here: Map<string, number>;
  /** path in the mapping -> size, in the remote's keep folder. */
  remote: Map<string, number>;
}

/** Mapping name -> its syncs that kept something, oldest first. */
export type SyncKept = Map<string, SyncKeptRun[]>;

const KEPT_ID = /^(\d{8}T\d{6}Z)-[0-9a-f]{4}$/;

/** Pure: `remote:bucket/.poof-sync-kept` (`crypt:.poof-sync-kept` inside a crypt remote). */
export function syncKeptRoot(root: string): string {
  return root.endsWith(':') ? `${root}${SYNC_KEPT_DIR}` : `${root}/${SYNC_KEPT_DIR}`;
}

/**
 * Pure: the kept id of a sync that started at `date` (run id `runId`): four hex digits after the
 * run id, the millisecond times 16 plus a random nibble, so ids sort by start time also within
 * one second, and two machines' syncs in the same millisecond still differ (mostly).
 */
export function keptIdFor(runId: string, date: Date, random: number): string {
  return `${runId}-${((date.getTime() % 1000) * 16 + (random & 15)).toString(16).padStart(4, '0')}`;
}

/** Pure: the run id of a kept id; undefined for a folder poof did not name. */
export function runOfKeptId(keptId: string): string | undefined {
  return KEPT_ID.exec(keptId)?.[1];
}

const RUN_FLAGS = ['--contimeout', '30s', '--timeout', '2m'];

/** Pure: one entry (`<kept id>/<NAME>/<path>`) added to the listing, on the given side. */
function add(kept: SyncKept, rel: string, size: number, side: 'here' | 'remote'): void {
  const [keptId = '', name = '', ...rest] = rel.split('/');
  const runId = runOfKeptId(keptId);
  // A name no mapping can have (".", ".."): never a path to remove.
  if (!runId || !name || name === '.' || name === '..' || rest.length === 0) return;
  const runs = kept.get(name) ?? [];
  kept.set(name, runs);
  let run = runs.find((r) => r.keptId === keptId);
  if (!run) {
    run = { keptId, runId, here: new Map(), remote: new Map() };
    runs.push(run);
    runs.sort((a, b) => (a.keptId < b.keptId ? -1 : 1));
  }
  run[side].set(rest.join('/'), size);
}

/** Pure: the sync keep folders from an `rclone lsjson -R --files-only` of the remote's, and a walk of this machine's. */
export function syncKeptOf(remoteEntries: Array<{ Path: string; Size: number }>, localEntries: Array<{ rel: string; size: number }>): SyncKept {
  const kept: SyncKept = new Map();
  for (const entry of remoteEntries) add(kept, entry.Path, entry.Size, 'remote');
  for (const entry of localEntries) add(kept, entry.rel, entry.size, 'here');
  return kept;
}

/**
 * Every file the two-way syncs kept, on both sides: one listing of the remote's keep folder
 * (none yet: nothing), and a walk of this machine's. Links are not followed.
 */
export async function listSyncKept(rclone: Rclone, remote: { root: string; configFile: string }, localRoot: string, cancelSignal?: AbortSignal): Promise<SyncKept> {
  const result = await rclone.run(['lsjson', syncKeptRoot(remote.root), '-R', '--files-only', ...baseFlags(remote.configFile), ...RUN_FLAGS], { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
  if (result.exitCode !== 0 && !directoryNotFound(result)) throw new RunFailedError(`could not list ${syncKeptRoot(remote.root)}: rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
  const remoteEntries = result.exitCode === 0 ? (JSON.parse(result.stdout || '[]') as Array<{ Path: string; Size: number }>) : [];
  return syncKeptOf(remoteEntries, (await entriesBelow(localRoot)).filter((entry) => entry.kind === 'file'));
}

/** What a prune of one mapping's sync keep folders removes (or would). */
export interface SyncKeptPrune {
  name: string;
  /** Kept ids whose folders (both sides) go. */
  removed: string[];
  /** Kept ids that stay. */
  kept: string[];
  removedFiles: number;
  freedBytes: number;
}

/** A keep folder dated this far past now is another machine's clock, or this one's set back: never counted, never removed. */
const FUTURE_ALLOWANCE_MS = 10 * 60_000;

/**
 * Pure: poof.conf's `keep` applied to a mapping's syncs as to its backup runs, each sync that
 * kept something one run (two in one second too). A sync's keep folder holds what it replaced:
 * the versions current just before it. A kept sync K keeps the state just before it (its own
 * folder) and the state just after it: for each file, the folder of the first later sync that
 * replaced it on that side. So a folder X is needed when a file in it was last replaced before
 * X by a sync at or before some kept K, with K at or before X; a folder is removed only when
 * none of its files is needed (each side on its own). Never removed: the folders in `protect`
 * (the sync that just ran), and folders dated in the future.
 */
export function planSyncKeptPrune(name: string, runs: SyncKeptRun[], policy: KeepPolicy, options: { now: number; protect?: ReadonlySet<string>; timeZoneOffset?: (d: Date) => number }): SyncKeptPrune {
  const timeOf = (keptId: string) => timeOfRunId(runOfKeptId(keptId)!);
  const sorted = [...runs].sort((a, b) => (a.keptId < b.keptId ? -1 : 1));
  const dated = sorted.filter((r) => timeOf(r.keptId).getTime() <= options.now + FUTURE_ALLOWANCE_MS);
  const keep = [...selectKept(dated.map((r) => r.keptId), policy, options.timeZoneOffset, timeOf).keys()];
  const needed = (index: number): boolean => {
    const run = sorted[index]!;
    for (const side of ['here', 'remote'] as const) {
      for (const file of run[side].keys()) {
        // The sync before this one that last replaced the file on this side: before it, this version was not yet current.
        let since = '';
        for (let i = index - 1; i >= 0; i--) {
          if (sorted[i]![side].has(file)) {
            since = sorted[i]!.keptId;
            break;
          }
        }
        if (keep.some((k) => k >= since && k <= run.keptId)) return true;
      }
    }
    return false;
  };
  const removed: SyncKeptRun[] = [];
  const kept: SyncKeptRun[] = [];
  sorted.forEach((run, index) => {
    const future = timeOf(run.keptId).getTime() > options.now + FUTURE_ALLOWANCE_MS;
    if (future || options.protect?.has(run.keptId) || needed(index)) kept.push(run);
    else removed.push(run);
  });
  const sizes = removed.flatMap((r) => [...r.here.values(), ...r.remote.values()]);
  return {
    name,
    removed: removed.map((r) => r.keptId),
    kept: kept.map((r) => r.keptId),
    removedFiles: sizes.length,
    freedBytes: sizes.reduce((sum, size) => sum + size, 0),
  };
}

/**
 * Remove the folders a plan names: the remote's first (`rclone purge` of each), then this
 * machine's. A prune stopped midway leaves whole folders or none of a sync's side; the next one
 * removes the rest.
 */
export async function applySyncKeptPrune(rclone: Rclone, remote: { root: string; configFile: string }, localRoot: string, plan: SyncKeptPrune, cancelSignal?: AbortSignal): Promise<void> {
  for (const keptId of plan.removed) {
    if (cancelSignal?.aborted) throw new RunFailedError('prune: stopped before removing every sync keep folder; the next prune removes the rest');
    const folder = `${syncKeptRoot(remote.root)}/${keptId}/${plan.name}`;
    const purged = await rclone.run(['purge', folder, ...baseFlags(remote.configFile), ...RUN_FLAGS], { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
    // Nothing kept on the remote side (a sync that only brought changes here): WebDAV says 404.
    if (purged.exitCode !== 0 && !directoryNotFound(purged) && !/\b404\b|not found/i.test(purged.stderr)) throw new RunFailedError(`prune: could not remove ${folder}: rclone exited ${purged.exitCode}: ${lastErrorLine(purged.stderr)}`);
    // The run's folder itself, once no mapping's is left in it (S3 has no folders: nothing to do).
    await rclone.run(['rmdir', `${syncKeptRoot(remote.root)}/${keptId}`, ...baseFlags(remote.configFile), ...RUN_FLAGS], { timeoutMs: 60_000 });
    await rm(path.join(localRoot, keptId, plan.name), { recursive: true, force: true });
    await rmdir(path.join(localRoot, keptId)).catch(() => undefined);
  }
}

/** Pure: where one sync's kept copies of mapping `name` are, on each side. */
export function keptFolders(localRoot: string, remoteRoot: string, keptId: string, name: string): { here: string; remote: string } {
  return { here: path.join(localRoot, keptId, name), remote: `${syncKeptRoot(remoteRoot)}/${keptId}/${name}` };
}
