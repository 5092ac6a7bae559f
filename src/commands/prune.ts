import type { Context } from '../context.js';
import { runPipeline } from '../run/pipeline.js';
import { pruneHistory } from '../run/prune-history.js';
import { formatPrune } from '../ui/history-format.js';
import type { MappingPrune } from '../versions/prune.js';
import type { OptionsOf, pruneSpec } from './specs.js';

export async function pruneCommand(ctx: Context, options: OptionsOf<typeof pruneSpec>): Promise<number> {
  const dryRun = Boolean(options.dryRun);
  let plans: MappingPrune[] = [];
  // The lock: a prune must not remove what a backup running now is about to need.
  const { exitCode } = await runPipeline(ctx, { command: 'prune', dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt }) => {
    plans = await pruneHistory(ctx, setup, remote, rclone, { only: options.only, dryRun, cancelSignal: interrupt.signal });
    return { results: [], notRun: [] };
  });
  if (options.json) {
    ctx.out(JSON.stringify({ ok: exitCode === 0, dryRun, exitCode, mappings: plans.map((p) => ({ ...p, kept: Object.fromEntries(p.kept) })) }, null, 2));
    return exitCode;
  }
  for (const plan of plans) for (const line of formatPrune(plan, dryRun)) ctx.out(line);
  return exitCode;
}
