import type { Context } from '../context.js';
import type { MappingPlan } from '../engine/plan.js';
import type { TransferResult } from '../engine/result.js';
import { runMappingRetryingChanged, type MappingHooks } from '../engine/run-mapping.js';
import { detectChanges, needsSentRecord, runWithSentRecord } from '../engine/sent-transfer.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { sentStoreIn } from './sent-store.js';

export type Transfer = (plan: MappingPlan, hooks: MappingHooks) => Promise<TransferResult>;

/**
 * How this run's backups transfer: with poof's record of what was sent where the storage cannot
 * show every change by itself (no times and no hashes, or modes kept), else rclone's comparison
 * alone. A dry run changes nothing and records nothing.
 */
export async function chooseTransfer(ctx: Context, rclone: Rclone, remote: ResolvedRemote, cancelSignal: AbortSignal, dryRun: boolean): Promise<Transfer> {
  const plain: Transfer = (plan, hooks) => runMappingRetryingChanged(rclone, plan, hooks);
  if (dryRun) return plain;
  const detection = await detectChanges(rclone, remote, cancelSignal, ctx.paths.featuresCache);
  if (!needsSentRecord(detection, remote)) return plain;
  const store = sentStoreIn(ctx.paths.stateDir);
  const storage = { withModes: remote.keepsModes, sizeOnly: detection.sizeOnly };
  return (plan, hooks) => runWithSentRecord(rclone, plan, hooks, store, storage);
}
