import type { MappingPlan } from '../engine/plan.js';
import type { TransferResult } from '../engine/result.js';
import { buildMirrorListArgs, buildPutFileArgs } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { diffStates, type RunManifest, type TreeState } from './manifest.js';
import { putManifest, type ManifestCache } from './store.js';

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
}

/**
 * After one mapping's transfer with history kept, write the run's manifest beside its folder of
 * replaced versions. A finished transfer that changed something (or a mapping with no manifest
 * yet) records every file the mirror now holds, listed from the remote itself, so the record is
 * what is stored, also for copy-only mappings that keep files wiped locally. A run that changed
 * nothing writes nothing and lists nothing. A failed or interrupted transfer is recorded as
 * incomplete (no files): its folder still holds what it replaced. Returns why the manifest of a
 * finished transfer could not be written, for the caller to fail the mapping: without it the run
 * cannot be restored.
 */
export async function recordRun(ctx: RecordContext, plan: MappingPlan, result: TransferResult, afterUnrecorded = false, sent: ReadonlySet<string> = new Set(), passFolders: string[] = []): Promise<RecordOutcome> {
  if (result.status === 'refused') return {};
  const finished = result.status === 'ok' || result.status === 'partial';
  const previous = await ctx.cache.latest(plan.name);
  const base = { format: 1 as const, runId: ctx.runId, mapping: plan.name, started: ctx.started.toISOString(), command: ctx.command };
  if (!finished) {
    // Best effort and short: the remote may be the reason it failed.
    const incomplete: RunManifest = { ...base, status: 'incomplete', ended: new Date().toISOString(), counts: { added: 0, changed: 0, deleted: result.deleted, keptBytes: 0 } };
    await putManifest(ctx.rclone, ctx.remote, ctx.cache, incomplete, 20_000).catch(() => undefined);
    return {};
  }
  // A run that changed nothing writes nothing, unless an earlier run changed the mirror unrecorded.
  if (result.copied + result.deleted === 0 && previous && !afterUnrecorded) return {};
  const listed = await listTree(ctx, plan.remotePath, ctx.excludes);
  if (typeof listed === 'string') return { problem: `the run's record could not be written: ${listed}` };
  const files = listed;
  // What this run moved into its folder, as stored: exact whatever the storage counted for the move.
  const moved: TreeState = {};
  if (result.copied + result.deleted > 0 || (result.unreadable?.length ?? 0) > 0) {
    for (const folder of [plan.syncInput?.backupDir ?? '', ...passFolders]) {
      const listedFolder = await listTree(ctx, folder, []);
      if (typeof listedFolder === 'string') return { problem: `the run's record could not be written: ${listedFolder}` };
      for (const [file, state] of Object.entries(listedFolder)) moved[`${folder}\u0000${file}`] = state;
    }
  }
  // rclone (1.60) moves a file into the run's folder before it copies the new one; when the copy
  // failed because the file kept changing, the mirror has none. Put the version it had back, so
  // the mirror and this run's record still hold it (and download brings it back).
  for (const file of result.unreadable ?? []) {
    if (files[file]) continue;
    const folder = [plan.syncInput?.backupDir ?? '', ...passFolders].find((f) => moved[`${f}\u0000${file}`]);
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
  const changes = before ? diffStates(before, files) : { added: Object.keys(files), changed: [], deleted: [] };
  const manifest: RunManifest = {
    ...base,
    status: 'complete',
    ended: new Date().toISOString(),
    counts: { added: changes.added.length, changed: changes.changed.length, deleted: changes.deleted.length, keptBytes },
    files,
  };
  try {
    await putManifest(ctx.rclone, ctx.remote, ctx.cache, manifest);
  } catch (error) {
    return { problem: `the run's record could not be written (${(error as Error).message})`, keptBytes, keptFiles: Object.keys(moved).length, sentBytes };
  }
  return { keptBytes, keptFiles: Object.keys(moved).length, wrote: true, sentBytes };
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

/** Every file below a remote path with size and time; a folder that does not exist is empty. */
async function listTree(ctx: RecordContext, remotePath: string, excludes: string[] | undefined): Promise<TreeState | string> {
  const listed = await ctx.rclone.run(buildMirrorListArgs(ctx.remote.configFile, remotePath, excludes, Boolean(ctx.remote.tuning.fastList)), { timeoutMs: 30 * 60_000 });
  if (listed.exitCode === 3) return {};
  if (listed.exitCode !== 0) return `listing ${remotePath} failed (rclone exited ${listed.exitCode}: ${lastErrorLine(listed.stderr)})`;
  const files: TreeState = {};
  for (const entry of JSON.parse(listed.stdout || '[]') as Array<{ Path: string; Size: number; ModTime: string }>) {
    files[entry.Path] = { size: entry.Size, mtime: Date.parse(entry.ModTime) };
  }
  return files;
}
