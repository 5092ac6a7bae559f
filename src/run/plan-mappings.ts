import type { Context } from '../context.js';
import { planBackup, type MappingPlan, type SourceState } from '../engine/plan.js';
import { probeSource } from '../engine/probe-source.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { RunSetup } from './setup.js';
import { readUnfinished } from './unfinished.js';
import { dict } from '../dict.js';

export interface PlanOptions {
  only?: string[] | undefined;
  dryRun: boolean;
  /** Mappings copied without deleting on the remote. */
  copyOnly: ReadonlySet<string>;
  allowEmpty?: boolean;
  ignoreUnfinishedRestore?: boolean | undefined;
  /** With history kept: this run's id. */
  runId?: string | undefined;
  /**
   * Two-way mappings ("sync" in poof.conf) belong to `poof sync`: a mirror would delete what the
   * server added since the last sync. A backup leaves them out; an upload refuses them.
   */
  twoWay: 'leave-out' | 'refuse';
}

/** Look at every source and the state of unfinished restores, then plan backup or upload transfers. */
export async function planMappings(ctx: Context, { config }: RunSetup, remote: ResolvedRemote, options: PlanOptions): Promise<MappingPlan[]> {
  const sources: Record<string, SourceState> = dict();
  for (const dir of Object.keys(config.paths)) sources[dir] = await probeSource(dir, (config.symlinks ?? 'follow') === 'follow');
  const unfinished = await readUnfinished(ctx.paths.unfinishedFile);
  const plans = planBackup({
    config,
    remote,
    only: options.only,
    dryRun: options.dryRun,
    sources,
    copyOnly: options.copyOnly,
    allowEmpty: Boolean(options.allowEmpty),
    unfinishedRestores: new Set(Object.keys(unfinished.restores)),
    ignoreUnfinishedRestore: options.ignoreUnfinishedRestore,
    runId: options.runId,
  });
  const twoWay = new Set(config.sync ?? []);
  if (options.twoWay === 'leave-out') return plans.filter((plan) => !twoWay.has(plan.name));
  return plans.map((plan) =>
    twoWay.has(plan.name) && !plan.refusal
      ? { ...plan, refusal: `${plan.name} is two-way ("sync" in poof.conf): wiping its files here would reach the remote as deletions at the next \`poof sync\`; take it out of "sync" first` }
      : plan,
  );
}
