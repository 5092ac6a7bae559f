import type { Context } from '../context.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { applyPrune, planMappingPrune, type MappingPrune } from '../versions/prune.js';
import { DEFAULT_KEEP } from '../versions/retention.js';
import { listHistory, ManifestCache, readRunNames } from '../versions/store.js';
import type { RunSetup } from './setup.js';

/**
 * Apply poof.conf's `keep` to the history on the remote: plan each mapping's prune from one
 * listing and its manifests, then (unless a dry run) delete what no kept run needs.
 */
export async function pruneHistory(ctx: Context, setup: RunSetup, remote: ResolvedRemote, rclone: Rclone, options: { only?: string[] | undefined; dryRun: boolean; cancelSignal?: AbortSignal }): Promise<MappingPrune[]> {
  const cache = new ManifestCache(ctx.paths.stateDir, remote);
  const listing = await listHistory(rclone, remote, options.cancelSignal, cache);
  const policy = setup.config.keep ?? DEFAULT_KEEP;
  const plans: MappingPrune[] = [];
  for (const name of setup.names) {
    if (options.only && !options.only.includes(name)) continue;
    const runs = await readRunNames(rclone, remote, cache, name, listing.manifests.get(name) ?? [], options.cancelSignal);
    plans.push(planMappingPrune(name, runs, listing.kept.get(name) ?? new Map(), policy));
  }
  if (!options.dryRun) {
    await applyPrune(rclone, remote, plans, options.cancelSignal);
    const before = await cache.totals();
    if (before) {
      const sum = (pick: (p: MappingPrune) => number) => plans.reduce((total, p) => total + pick(p), 0);
      await cache.saveTotals({ ...before, runs: before.runs - sum((p) => p.forgotten.length), versions: before.versions - sum((p) => p.removedVersions), bytes: before.bytes - sum((p) => p.freedBytes), oldest: plans.flatMap((p) => [...p.kept.keys()]).sort()[0] ?? before.oldest });
    }
  }
  return plans;
}
