import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import type { MappingPlan } from '../engine/plan.js';
import { refusedTransfer, type TransferResult } from '../engine/result.js';
import type { MappingHooks } from '../engine/run-mapping.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { runIdFor } from '../versions/run-id.js';
import { newestRecords, vaultBackup } from './backup.js';
import { vaultCache } from './records.js';

/** An append-only run: its id (remembered before anything is sent) and how each mapping is backed up. */
export async function startVaultRun(ctx: Context, config: PoofConfig, remote: ResolvedRemote, rclone: Rclone, command: string, dryRun: boolean, cancelSignal: AbortSignal) {
  const cache = vaultCache(ctx.paths.stateDir, remote);
  const started = new Date();
  const runId = runIdFor(started, await cache.runIds());
  // A run killed before its record was written never shares its id with the next run.
  if (!dryRun) await cache.started(runId);
  const run = { rclone, remote, config, stateDir: ctx.paths.stateDir, cache, runId, started, command };
  const newest = newestRecords(run, cancelSignal);
  return {
    runId,
    transfer: (plan: MappingPlan, hooks: MappingHooks): Promise<TransferResult> =>
      plan.refusal ? Promise.resolve(refusedTransfer(plan, plan.refusal)) : vaultBackup(run, plan, hooks, () => newest(plan.name)),
  };
}
