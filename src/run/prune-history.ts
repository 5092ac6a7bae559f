import type { Context } from '../context.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { applyPrune, listingWithout, planMappingPrune, type MappingPrune } from '../versions/prune.js';
import { DEFAULT_KEEP } from '../versions/retention.js';
import { listHistory, ManifestCache, readRunNames, totalsOf } from '../versions/store.js';
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
    // The totals `poof status` shows: unknown while anything is being deleted (a kill can stop a
    // deletion at any file), then those of the listing less what the prune removed.
    let left = listing;
    let stage: 'records' | 'versions' = 'records';
    if (plans.some((p) => p.delete.length > 0)) await cache.forgetTotals().catch(() => undefined);
    try {
      await applyPrune(rclone, remote, plans, options.cancelSignal, async (what, paths) => {
        left = listingWithout(left, paths);
        if (what === 'records') stage = 'versions';
        else await cache.saveTotals(totalsOf(left, new Date())).catch(() => undefined);
      });
    } catch (error) {
      // Which files of the deletion under way went is not known until the next listing.
      await cache.forgetTotals().catch(() => undefined);
      ctx.err(`poof: ${stoppedPrune(plans, stage)}`);
      throw error;
    }
  }
  return plans;
}

/** Pure: what a prune that stopped partway did: it stopped deleting the records, or the versions after them. */
export function stoppedPrune(plans: MappingPrune[], stage: 'records' | 'versions'): string {
  const forgotten = plans.filter((p) => p.forgotten.length > 0).map((p) => `${p.name}: ${p.forgotten.join(', ')}`);
  const runs = forgotten.length > 0 ? ` (${forgotten.join('; ')})` : '';
  if (stage === 'records') return `the prune stopped while removing the records of the runs no longer kept${runs}: some of them may be gone; every run \`poof history\` still lists restores whole, and the next prune finishes the job`;
  const records = forgotten.length > 0 ? `after removing the records of the runs no longer kept${runs}, which are no longer restorable, ` : '';
  return `the prune stopped ${records}while removing the versions no kept run needs: every run \`poof history\` lists restores whole, and the next prune removes the rest`;
}
