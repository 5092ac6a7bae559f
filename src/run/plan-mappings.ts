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
}

/** Look at every source and the state of unfinished restores, then plan backup or upload transfers. */
export async function planMappings(ctx: Context, { config }: RunSetup, remote: ResolvedRemote, options: PlanOptions): Promise<MappingPlan[]> {
  const sources: Record<string, SourceState> = dict();
  for (const dir of Object.keys(config.paths)) sources[dir] = await probeSource(dir, (config.symlinks ?? 'follow') === 'follow');
  const unfinished = await readUnfinished(ctx.paths.unfinishedFile);
  return planBackup({
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
}
