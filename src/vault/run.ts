import { rm } from 'node:fs/promises';
import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import type { MappingPlan } from '../engine/plan.js';
import { refusedTransfer, type TransferResult } from '../engine/result.js';
import type { MappingHooks } from '../engine/run-mapping.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { runIdFor, timeOfRunId } from '../versions/run-id.js';
import { FUTURE_ALLOWANCE_MS } from './layout.js';
import { stagingRoot, vaultBackup, writtenRecord, type VaultBase } from './backup.js';
import { listVaultRuns, vaultCache } from './records.js';

/** An append-only run: its id (remembered before anything is sent) and how each mapping is backed up. */
export async function startVaultRun(ctx: Context, config: PoofConfig, remote: ResolvedRemote, rclone: Rclone, command: string, dryRun: boolean, cancelSignal: AbortSignal) {
  const cache = vaultCache(ctx.paths.stateDir, remote);
  const started = new Date();
  // Ids read from the storage dated ahead of this clock (beyond a skew between machines) are not
  // taken into account: a planted record must not push every later run's id (its place in time).
  const taken = (await cache.runIds()).filter((id) => timeOfRunId(id).getTime() <= started.getTime() + FUTURE_ALLOWANCE_MS);
  const runId = runIdFor(started, taken);
  // A run killed before its record was written never shares its id with the next run.
  if (!dryRun) await cache.started(runId);
  // Folders of links a killed run left (this run holds the lock: none is in use).
  await rm(stagingRoot(ctx.paths.stateDir), { recursive: true, force: true });
  const run = { rclone, remote, config, stateDir: ctx.paths.stateDir, cache, runId, started, command, proven: new Map<string, string>() };
  // The runs the storage holds now, listed once: a base this machine wrote that a prune has
  // removed since (its objects may be gone too) is no base.
  let listed: Promise<Map<string, string[]>> | undefined;
  const base = async (name: string): Promise<VaultBase> => {
    listed ??= listVaultRuns(rclone, remote, cancelSignal);
    const ids = ((await listed).get(name) ?? []).filter((id) => timeOfRunId(id).getTime() <= started.getTime() + FUTURE_ALLOWANCE_MS);
    const own = await writtenRecord(cache, name);
    const previous = own && ids.includes(own.runId) ? own : undefined;
    // Another record is newer than this machine's (another machine's, or planted): a prune keeps
    // the newest, so this run records the tree even if nothing changed.
    return { ...(previous ? { previous } : {}), recordAnyway: !previous || ids.at(-1) !== previous.runId };
  };
  return {
    runId,
    transfer: (plan: MappingPlan, hooks: MappingHooks): Promise<TransferResult> =>
      plan.refusal ? Promise.resolve(refusedTransfer(plan, plan.refusal)) : vaultBackup(run, plan, hooks, () => base(plan.name)),
  };
}
