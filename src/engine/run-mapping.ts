import { describeRcloneExit } from '../rclone/exit-codes.js';
import { dryRunAction, type RcloneStats } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import { runStreamed } from '../rclone/stream.js';
import type { MappingEvent } from './events.js';
import type { MappingPlan } from './plan.js';
import { refusedTransfer, type TransferResult } from './result.js';

export interface MappingHooks {
  emit: (event: MappingEvent) => void;
  /** Every raw stderr line of rclone, for the log file. */
  log: (line: string) => void;
  /** Aborting it stops rclone. */
  cancelSignal: AbortSignal;
  dryRun: boolean;
}

const MAX_KEPT_ERRORS = 20;

/**
 * Run one planned rclone sync/copy; success only when rclone exits 0. Counts are of distinct
 * files rclone reported as copied or deleted (in a dry run: as it would copy or delete), so a
 * version that logs more lines per file cannot inflate them.
 */
export async function runMapping(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks): Promise<TransferResult> {
  if (plan.refusal) return refusedTransfer(plan, plan.refusal);
  const started = Date.now();
  let stats: RcloneStats | undefined;
  const copied = new Set<string>();
  const deleted = new Set<string>();
  const errors: string[] = [];
  hooks.log(`# ${new Date().toISOString()} ${plan.name}: rclone ${plan.args.join(' ')}`);
  const result = await runStreamed(rclone, plan.args, {
    cancelSignal: hooks.cancelSignal,
    stallMs: plan.stallMs,
    onLine: hooks.log,
    onEvent: (event) => {
      if (event.kind === 'stats') {
        stats = event.stats;
        hooks.emit({ type: 'progress', name: plan.name, stats: event.stats });
      } else if (event.kind === 'file') {
        if (event.action === 'copied' || event.action === 'updated') copied.add(event.object);
        else if (event.action === 'deleted') deleted.add(event.object);
        else if (hooks.dryRun) {
          const action = dryRunAction(event.message);
          if (action === 'copy' || action === 'delete') {
            (action === 'copy' ? copied : deleted).add(event.object);
            hooks.emit({ type: 'planned', name: plan.name, action, object: event.object });
          }
        }
      } else if (event.kind === 'error') {
        const line = event.object ? `${event.object}: ${event.message}` : event.message;
        if (errors.length < MAX_KEPT_ERRORS) errors.push(line);
        hooks.emit({ type: 'rclone-error', name: plan.name, message: line });
      }
    },
  });
  const base = { name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath };
  const common = { ...base, rcloneExit: result.exitCode, copied: copied.size, deleted: deleted.size, errors, durationMs: Date.now() - started, ...(stats ? { stats } : {}) };
  if (result.exitCode === 0) return { ...common, status: 'ok' };
  const reason = result.cancelled
    ? 'interrupted: rclone was stopped before it finished'
    : result.stalled
      ? `the remote stopped answering (${result.stalled}); poof stopped rclone after ${(plan.stallMs ?? 0) / 1000} s without progress rather than retry every file`
      : result.signal
        ? `rclone was stopped by ${result.signal}`
        : `rclone exited ${result.exitCode}: ${describeRcloneExit(result.exitCode).meaning}`;
  return { ...common, status: 'failed', reason };
}
