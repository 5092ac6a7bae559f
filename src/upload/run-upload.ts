import type { SymlinkMode } from '../config/schema.js';
import type { MappingPlan } from '../engine/plan.js';
import type { TransferResult, UploadReport, UploadResult } from '../engine/result.js';
import { runMappingRetryingChanged, type MappingHooks } from '../engine/run-mapping.js';
import { buildProofArgs, hashesMissing, parseCombined, type CombinedReport, type ProofArgsInput, type ProofMethod } from '../rclone/check.js';
import type { Rclone } from '../rclone/runner.js';
import { runStreamed } from '../rclone/stream.js';
import { executeWipe, type WipeMode } from '../wipe/execute.js';
import { planWipe, type KeptFile } from '../wipe/plan.js';
import { snapshotTree } from '../wipe/snapshot.js';

export interface UploadSettings {
  proof: Omit<ProofArgsInput, 'method' | 'localDir' | 'remotePath'>;
  crypt: boolean;
  wipeMode: WipeMode;
  symlinks: SymlinkMode;
  dryRun: boolean;
  /**
   * Called once per mapping just before its first file is wiped: from then on its remote copy
   * holds files that are no longer local, and a later mirror must never delete them.
   */
  beforeWipe?: (name: string) => Promise<void>;
  /** How the copy runs; by default with a retry of files that kept changing. */
  transfer?: (plan: MappingPlan, hooks: MappingHooks) => Promise<TransferResult>;
}

const KEPT_LISTED = 50;

/**
 * One mapping of `poof upload`: copy; only after rclone exited 0, snapshot the local files,
 * prove each on the remote, snapshot again, and wipe the files that were proven and did not
 * change in between. Any error before the wipe wipes nothing; an error in the wipe stops it.
 */
export async function uploadMapping(
  rclone: Rclone,
  plan: MappingPlan,
  settings: UploadSettings,
  hooks: MappingHooks,
  moveToTrash: (files: string[]) => Promise<void>,
): Promise<UploadResult> {
  const synced = await (settings.transfer ?? ((p: MappingPlan, h: MappingHooks) => runMappingRetryingChanged(rclone, p, h)))(plan, hooks);
  // partial: files that kept changing are not proven, so they stay; the rest goes on.
  if (synced.status !== 'ok' && synced.status !== 'partial') return { ...synced, kind: 'upload', ...(synced.status === 'failed' ? { reason: `${synced.reason ?? 'the copy failed'}; nothing was wiped` } : {}) };
  const started = Date.now() - synced.durationMs;
  const report = (upload: UploadReport, extra: Partial<UploadResult> = {}): UploadResult => ({ ...synced, ...extra, kind: 'upload', durationMs: Date.now() - started, upload });
  const empty: UploadReport = { proven: 0, wiped: 0, kept: 0, keptFiles: [], removedDirs: 0, wipeMode: settings.wipeMode };
  const phase = (text: string) => hooks.emit({ type: 'phase', name: plan.name, text });

  const before = await snapshotTree(plan.localDir, settings.symlinks);
  phase(`proving ${before.size} files on the remote`);
  const proof = await prove(rclone, plan, settings, hooks.cancelSignal);
  if ('error' in proof) {
    return report({ ...empty, kept: before.size }, { status: 'failed', reason: `${proof.error}; nothing was wiped` });
  }
  const after = await snapshotTree(plan.localDir, settings.symlinks);
  const unproven: KeptFile[] = [
    ...proof.report.differ.map((path) => ({ path, reason: 'differs from the remote copy' })),
    ...proof.report.missing.map((path) => ({ path, reason: 'not on the remote' })),
  ];
  const wipePlan = planWipe({ proven: proof.report.same, unproven, before, after });
  const proven = proof.report.same.length;
  if (settings.dryRun) {
    const keptFiles = wipePlan.kept.slice(0, KEPT_LISTED);
    return report({ ...empty, method: proof.method, proven, wiped: 0, kept: wipePlan.kept.length, keptFiles });
  }
  if (hooks.cancelSignal.aborted) return report({ ...empty, method: proof.method, proven, kept: after.size }, { status: 'failed', reason: 'interrupted before the wipe; nothing was wiped' });

  if (wipePlan.wipe.length > 0) await settings.beforeWipe?.(plan.name);
  phase(`wiping ${wipePlan.wipe.length} proven files (${settings.wipeMode})`);
  const wiped = await executeWipe(plan.localDir, wipePlan, before, settings.wipeMode, moveToTrash);
  const upload: UploadReport = {
    method: proof.method,
    proven,
    wiped: wiped.wiped.length,
    kept: wiped.kept.length,
    keptFiles: wiped.kept.slice(0, KEPT_LISTED),
    removedDirs: wiped.removedDirs,
    wipeMode: settings.wipeMode,
  };
  if (wiped.error) return report(upload, { status: 'failed', reason: `the wipe stopped: ${wiped.error}; ${wiped.wiped.length} files were wiped, the rest stay` });
  return report(upload);
}

type ProofOutcome = { method: ProofMethod; report: CombinedReport } | { error: string };

/**
 * Prove with a shared hash (or cryptcheck for crypt); when rclone says it could not compare
 * hashes, prove again by downloading and comparing bytes.
 */
async function prove(rclone: Rclone, plan: MappingPlan, settings: UploadSettings, cancelSignal: AbortSignal): Promise<ProofOutcome> {
  const first: ProofMethod = settings.crypt ? 'cryptcheck' : 'hash';
  const outcome = await runProof(rclone, plan, settings, first, cancelSignal);
  if ('fallback' in outcome) return runProof(rclone, plan, settings, 'download', cancelSignal) as Promise<ProofOutcome>;
  return outcome;
}

async function runProof(rclone: Rclone, plan: MappingPlan, settings: UploadSettings, method: ProofMethod, cancelSignal: AbortSignal): Promise<ProofOutcome | { fallback: true }> {
  const args = buildProofArgs({ ...settings.proof, method, localDir: plan.localDir, remotePath: plan.remotePath });
  const messages: string[] = [];
  const errors: string[] = [];
  const result = await runStreamed(rclone, args, {
    cancelSignal,
    stallMs: plan.stallMs,
    probeArgs: plan.probeArgs,
    onEvent: (event) => {
      if (event.kind === 'error') errors.push(event.object ? `${event.object}: ${event.message}` : event.message);
      if (event.kind === 'error' || event.kind === 'other') messages.push(event.message);
      if (event.kind === 'text') messages.push(event.text);
    },
  });
  if (result.cancelled) return { error: 'interrupted during the proof' };
  if (result.stalled) return { error: `the proof (${method}) stopped: the remote stopped answering (${result.stalled.message})` };
  const report = parseCombined(result.stdout);
  if (method !== 'download' && hashesMissing(messages.join('\n'))) return { fallback: true };
  const listed = report.same.length + report.differ.length + report.missing.length + report.failed.length;
  // check exits 1 when files differ; the report then still says which ones are identical.
  const usable = result.exitCode === 0 || (result.exitCode === 1 && listed > 0);
  if (!usable || report.failed.length > 0) {
    if (method === 'cryptcheck' && listed === 0 && messages.some((m) => /hash/i.test(m))) return { fallback: true };
    const cause = errors[errors.length - 1] ?? messages[messages.length - 1] ?? '';
    return { error: `the proof (${method}) failed: rclone exited ${result.exitCode}${report.failed.length ? `, ${report.failed.length} files could not be read` : ''}${cause ? `: ${cause}` : ''}` };
  }
  return { method, report };
}
