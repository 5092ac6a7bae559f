import type { RunManifest } from '../versions/manifest.js';
import { timeOfRunId } from '../versions/run-id.js';
import type { DrillResult } from '../versions/drill.js';
import type { MappingPrune } from '../versions/prune.js';
import type { VaultPrunePlan } from '../vault/prune.js';
import type { FileVersion } from '../versions/state.js';
import type { HistoryTotals } from '../versions/store.js';
import { formatBytes } from './format.js';
import type { SyncKeptPrune, SyncKeptRun } from '../sync/kept.js';

/** Pure: a run id as the user's local time, `2026-12-02 16:27:04`. */
export function localTimeOf(runId: string): string {
  const t = timeOfRunId(runId);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** What one run of one mapping did and keeps, as `poof history` shows and prints it. */
export interface RunSummary {
  id: string;
  time: string;
  complete: boolean;
  /** Why its record could not be read, when it could not. */
  damaged?: string;
  command: string;
  added: number;
  changed: number;
  deleted: number;
  /** What its folder holds now (after any prune): the versions it replaced or deleted. */
  keptFiles: number;
  keptBytes: number;
}

/** Pure: one run's summary from its manifest and what its folder holds. */
export function summarizeRun(manifest: RunManifest, kept: Map<string, number> | undefined): RunSummary {
  return {
    id: manifest.runId,
    time: localTimeOf(manifest.runId),
    complete: manifest.status === 'complete',
    ...(manifest.damaged ? { damaged: manifest.damaged } : {}),
    command: manifest.command,
    added: manifest.counts.added,
    changed: manifest.counts.changed,
    deleted: manifest.counts.deleted,
    keptFiles: kept?.size ?? 0,
    keptBytes: [...(kept?.values() ?? [])].reduce((a, b) => a + b, 0),
  };
}

/** Pure: the lines of one mapping's history, newest run first. */
export function formatHistory(name: string, runs: RunSummary[]): string[] {
  if (runs.length === 0) return [`${name}: no runs kept yet (the next backup that changes something starts its history)`];
  const lines = [`${name}: ${runs.length} ${runs.length === 1 ? 'run' : 'runs'} kept`];
  for (const run of [...runs].reverse()) {
    const what = run.complete ? `+${run.added} added, ${run.changed} changed, ${run.deleted} deleted` : 'did not finish (not a target of --at unless named by its id)';
    const kept = run.keptFiles > 0 ? `; keeps ${run.keptFiles} replaced ${run.keptFiles === 1 ? 'version' : 'versions'} (${formatBytes(run.keptBytes)})` : '';
    if (run.damaged) lines.push(`  ${run.id}  ${run.time}  its record cannot be read (${run.damaged}): counted as a run that did not finish${kept}`);
    else lines.push(`  ${run.id}  ${run.time}  ${run.command}: ${what}${kept}`);
  }
  return lines;
}

/** Pure: the lines of `poof versions`, newest first. */
export function formatVersions(where: string, versions: FileVersion[], appendOnly = false): string[] {
  if (versions.length === 0) return [`${where}: no kept version`];
  return [
    `${where}: ${versions.length} ${versions.length === 1 ? 'version' : 'versions'}, newest first`,
    ...versions.map((v) => {
      const since = v.since ? `as of run ${v.since} (${localTimeOf(v.since)})` : 'not a state any kept run recorded';
      const until = v.replacedBy ? `until run ${v.replacedBy} (${localTimeOf(v.replacedBy)})${appendOnly ? '' : ', kept in its folder'}` : appendOnly ? 'current: in the newest run' : 'current: in the mirror';
      return `  ${formatBytes(v.size).padStart(9)}  ${since}, ${until}`;
    }),
  ];
}

/** Pure: what a prune of one mapping removes (or would) and frees. */
export function formatPrune(plan: MappingPrune, dryRun: boolean): string[] {
  const verb = dryRun ? 'would remove' : 'removed';
  const runs = plan.forgotten.length > 0 ? `; runs no longer restorable: ${plan.forgotten.join(', ')}` : '';
  return [`${plan.name}: ${verb} ${plan.removedVersions} kept ${plan.removedVersions === 1 ? 'version' : 'versions'} (${formatBytes(plan.freedBytes)} freed); ${plan.kept.size} ${plan.kept.size === 1 ? 'run' : 'runs'} kept${runs}`];
}

/** Pure: what a prune of an append-only vault removed (or would), per mapping, then its objects. */
export function formatVaultPrune(plan: VaultPrunePlan, dryRun: boolean): string[] {
  const verb = dryRun ? 'would remove' : 'removed';
  const lines = [...plan.expired].map(([name, ids]) => {
    const kept = plan.kept.get(name)?.length ?? 0;
    return `${name}: ${verb} ${ids.length} ${ids.length === 1 ? 'run' : 'runs'}${ids.length > 0 ? ` (${ids.join(', ')})` : ''}; ${kept} ${kept === 1 ? 'run' : 'runs'} kept`;
  });
  const waiting = plan.waiting > 0 ? `; ${plan.waiting} no record names wait a week (a backup may be sending them)` : '';
  lines.push(`objects: ${verb} ${plan.objects.length} no kept run needs (${formatBytes(plan.bytes)} freed)${waiting}`);
  return lines;
}

/** Pure: a restore drill's lines for one mapping. */
export function formatDrill(result: DrillResult | { name: string; problem: string }): string[] {
  if ('problem' in result) return [`${result.name}: FAILED: ${result.problem}`];
  const what = `run ${result.runId}: read back ${result.checked} of ${result.files} files (${result.againstLocal} also compared with the unchanged local file)`;
  if (result.problems.length === 0) return [`${result.name}: ok: ${what}`];
  return [`${result.name}: FAILED: ${what}; ${result.problems.length} ${result.problems.length === 1 ? 'problem' : 'problems'}:`, ...result.problems.map((p) => `  ${p.path}: ${p.problem}`)];
}

/** Pure: the history line of `poof status`. */
export function formatHistoryTotals(totals: HistoryTotals): string {
  if (totals.runs === 0) return 'history: no run kept on the remote yet';
  return `history: ${totals.runs} ${totals.runs === 1 ? 'run' : 'runs'} kept on the remote (${localTimeOf(totals.oldest!)} to ${localTimeOf(totals.newest!)}), ${totals.versions} replaced versions (${formatBytes(totals.bytes)}), as of ${totals.listed.slice(0, 16).replace('T', ' ')} UTC; \`poof history\` for each run`;
}

/** What one `poof sync` kept of one mapping, as `poof history` and `poof versions` show it. */
export interface SyncKeptSummary {
  keptId: string;
  runId: string;
  time: string;
  /** Where each side's copies are; no folder for a side that kept nothing (none was made). */
  here: { files: number; bytes: number; folder?: string };
  remote: { files: number; bytes: number; folder?: string };
}

/** Pure: the summary of one sync's keep folders, given where they are. */
export function summarizeSyncKept(run: SyncKeptRun, folders: { here: string; remote: string }): SyncKeptSummary {
  const side = (files: Map<string, number>, folder: string) => ({ files: files.size, bytes: [...files.values()].reduce((a, b) => a + b, 0), ...(files.size > 0 ? { folder } : {}) });
  return { keptId: run.keptId, runId: run.runId, time: localTimeOf(run.runId), here: side(run.here, folders.here), remote: side(run.remote, folders.remote) };
}

/** Pure: the lines of one two-way mapping's syncs that kept something, newest first. */
export function formatSyncKept(name: string, runs: SyncKeptSummary[]): string[] {
  if (runs.length === 0) return [];
  const count = (n: number) => `${n} ${n === 1 ? 'file' : 'files'}`;
  return [
    `${name}: ${runs.length} ${runs.length === 1 ? 'sync keeps' : 'syncs keep'} what they replaced or deleted (two-way; \`poof versions PATH\` for one file)`,
    ...[...runs].reverse().map((r) => `  ${r.keptId}  ${r.time}  here: ${count(r.here.files)} (${formatBytes(r.here.bytes)})${r.here.folder ? ` in ${r.here.folder}` : ''}; remote: ${count(r.remote.files)} (${formatBytes(r.remote.bytes)})${r.remote.folder ? ` in ${r.remote.folder}` : ''}`),
  ];
}

/** One file's copy a sync kept, on one side. */
export interface SyncKeptCopy {
  keptId: string;
  runId: string;
  side: 'here' | 'remote';
  size: number;
  /** Where it is: a local path, or an rclone remote path. */
  at: string;
}

/** Pure: the lines of `poof versions` for what two-way syncs kept of one file, newest first. */
export function formatSyncKeptCopies(copies: SyncKeptCopy[], rcloneConf: string): string[] {
  if (copies.length === 0) return [];
  const remote = copies.find((c) => c.side === 'remote');
  return [
    `  kept by two-way syncs (what a sync replaced or deleted, on the side it was on), newest first:`,
    ...[...copies].reverse().map((c) => `  ${formatBytes(c.size).padStart(9)}  replaced by sync ${c.runId} (${localTimeOf(c.runId)}), ${c.side === 'here' ? 'here' : 'on the remote'}: ${c.at}`),
    ...(remote ? [`  (a copy on the remote comes back with: rclone --config ${rcloneConf} copyto '${remote.at}' DEST)`] : []),
  ];
}

/** Pure: what a prune of a mapping's sync keep folders removes (or would) and frees. */
export function formatSyncKeptPrune(plan: SyncKeptPrune, dryRun: boolean): string[] {
  if (plan.removed.length === 0 && plan.kept.length === 0) return [];
  const verb = dryRun ? 'would remove' : 'removed';
  return [`${plan.name}: two-way syncs: ${verb} the keep folders of ${plan.removed.length} ${plan.removed.length === 1 ? 'sync' : 'syncs'} (${plan.removedFiles} ${plan.removedFiles === 1 ? 'file' : 'files'}, ${formatBytes(plan.freedBytes)} freed); ${plan.kept.length} kept`];
}
