import { RunFailedError } from '../errors.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildDeleteListedArgs, buildRemoveEmptyDirsArgs, historyRoot, manifestName } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { planPrune, selectKept, type KeepPolicy, type RunNames } from './retention.js';
import type { KeptVersions } from './state.js';
import type { HistoryListing } from './store.js';

/** One mapping's prune: which runs stay restorable, and what goes. */
export interface MappingPrune {
  name: string;
  /** Run id -> why it is kept. */
  kept: Map<string, string[]>;
  /** Complete runs no longer restorable after the prune. */
  forgotten: string[];
  /** Paths below .poof-history to delete: kept versions no kept run needs, and manifests. */
  delete: string[];
  freedBytes: number;
  removedVersions: number;
}

/**
 * Pure: what a prune of one mapping removes under the policy: the versions in run folders that
 * no kept run needs (retention.ts), and the manifests of runs no longer kept. Never anything in
 * the mirror, never a version the newest run needs (it needs none: its files are the mirror).
 */
export function planMappingPrune(name: string, runs: RunNames[], kept: KeptVersions, policy: KeepPolicy): MappingPrune {
  const complete = runs.filter((r) => r.names).map((r) => r.runId);
  const keep = selectKept(complete, policy);
  const plan = planPrune(runs, kept, new Set(keep.keys()));
  const deletions: string[] = [];
  for (const [runId, files] of plan.versions) for (const file of files) deletions.push(`${runId}/${name}/${file}`);
  for (const runId of plan.records) deletions.push(`${runId}/${manifestName(name)}`);
  return {
    name,
    kept: keep,
    forgotten: complete.filter((id) => !keep.has(id)).sort(),
    delete: deletions.sort(),
    freedBytes: plan.freedBytes,
    removedVersions: plan.removedFiles,
  };
}

/** Pure: a path below .poof-history is a run's record (`<run id>/<NAME>.run.json.gz`), not a version (`<run id>/<NAME>/<path>`). */
function isRecordPath(file: string): boolean {
  return file.split('/').length === 2;
}

/**
 * Pure: what a listing of the history holds once the given paths below .poof-history (records
 * `<run id>/<NAME>.run.json.gz`, versions `<run id>/<NAME>/<path>`) are deleted.
 */
export function listingWithout(listing: HistoryListing, paths: string[]): HistoryListing {
  const manifests = new Map([...listing.manifests].map(([name, ids]) => [name, [...ids]]));
  const kept = new Map([...listing.kept].map(([name, byRun]) => [name, new Map([...byRun].map(([id, files]) => [id, new Map(files)]))]));
  for (const file of paths) {
    const [runId = '', second = '', ...rest] = file.split('/');
    if (isRecordPath(file)) {
      const name = second.replace(/\.run\.json\.gz$/, '');
      manifests.set(name, (manifests.get(name) ?? []).filter((id) => id !== runId));
      continue;
    }
    const byRun = kept.get(second);
    byRun?.get(runId)?.delete(rest.join('/'));
    if (byRun?.get(runId)?.size === 0) byRun.delete(runId);
  }
  return { manifests, kept };
}

/**
 * Delete what the plans list, then the folders left empty; the history root itself stays. The
 * records of the runs no longer kept go first, in a deletion of their own, and the versions no
 * kept run needs only after it finished: a prune stopped at any moment (Ctrl-C, a kill, a laptop
 * put to sleep) leaves every run that still has a record whole. In one deletion rclone removes
 * files in no set order, so a run the prune was forgetting could be left listed by `poof history`
 * with part of its versions gone. Versions left behind in a folder whose record went are what the
 * next prune removes. `onDeleted` hears of each deletion that finished (the records', then the
 * versions', each even when it had nothing to delete).
 */
export async function applyPrune(
  rclone: Rclone,
  remote: ResolvedRemote,
  plans: MappingPrune[],
  cancelSignal?: AbortSignal,
  onDeleted?: (what: 'records' | 'versions', paths: string[]) => Promise<void>,
): Promise<void> {
  const files = plans.flatMap((p) => p.delete);
  if (files.length === 0) return;
  const records = files.filter(isRecordPath);
  const versions = files.filter((file) => !isRecordPath(file));
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-prune-'));
  try {
    const root = historyRoot(remote.root);
    const options = { timeoutMs: 60 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) };
    for (const [what, batch] of [['records', records], ['versions', versions]] as const) {
      if (batch.length === 0) {
        await onDeleted?.(what, batch);
        continue;
      }
      if (cancelSignal?.aborted) throw new RunFailedError(`prune: stopped before deleting the ${what}`);
      const list = path.join(scratch, `${what}.list`);
      await writeFile(list, `${batch.join('\n')}\n`);
      const deleted = await rclone.run(buildDeleteListedArgs(remote.configFile, root, list), options);
      if (deleted.exitCode !== 0) throw new RunFailedError(`prune: rclone delete exited ${deleted.exitCode}: ${lastErrorLine(deleted.stderr)}`);
      await onDeleted?.(what, batch);
    }
    // Folders only exist on storage with directories; S3 reports nothing to do.
    await rclone.run(buildRemoveEmptyDirsArgs(remote.configFile, root), options);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
