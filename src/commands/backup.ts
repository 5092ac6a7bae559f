import type { Context } from '../context.js';
import type { BackupResult } from '../engine/result.js';
import { runAll } from '../engine/run-all.js';
import { runMapping } from '../engine/run-mapping.js';
import { startVaultRun } from '../vault/run.js';
import { vaultRoot } from '../vault/layout.js';
import { askChanges, chooseTransfer, pruneAfterRun, startHistory } from '../run/transfer.js';
import { formatPrune } from '../ui/history-format.js';
import { ExitCode } from '../errors.js';
import { trackBackup } from '../run/inflight.js';
import { runPipeline } from '../run/pipeline.js';
import { planMappings } from '../run/plan-mappings.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { isUploaded, readUploaded } from '../run/uploaded.js';
import { createRunView, outputMode } from '../ui/run-view.js';
import type { backupSpec, OptionsOf } from './specs.js';

export type BackupOptions = OptionsOf<typeof backupSpec>;

export async function backupCommand(ctx: Context, options: BackupOptions): Promise<number> {
  const dryRun = Boolean(options.dryRun);
  const mode = outputMode(ctx, options);
  let planned = 0;
  let runId: string | undefined;
  let appendOnly = false;
  const { exitCode, outcome, signal } = await runPipeline(ctx, { command: 'backup', dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt, log }) => {
    const { config, names } = setup;
    // Other keys would write a second encrypted tree beside the first, and verify would pass for both.
    await requireCryptKey(rclone, remote, names, interrupt.signal, !dryRun);
    if (config.mode === 'append-only') {
      appendOnly = true;
      const vault = await startVaultRun(ctx, config, remote, rclone, 'backup', dryRun, interrupt.signal);
      runId = dryRun ? undefined : vault.runId;
      // Every mapping goes into the vault: that is where its files are.
      const plans = (await planMappings(ctx, setup, remote, { only: options.only, dryRun, copyOnly: new Set(), ignoreUnfinishedRestore: options.ignoreUnfinishedRestore, twoWay: 'leave-out' })).map((plan) => ({ ...plan, remotePath: vaultRoot(remote.root) }));
      planned = plans.length;
      const view = await createRunView(ctx, mode, plans, { direction: 'backup', dryRun });
      const hooks = { emit: view.emit, log: log.write, cancelSignal: interrupt.signal, dryRun };
      const ran = await runAll<BackupResult>(plans, async (plan) => ({ ...(await vault.transfer(plan, hooks)), kind: 'backup' }), { cancelSignal: interrupt.signal, emit: view.emit });
      await view.finish();
      return ran;
    }
    const uploaded = await readUploaded(ctx.paths.uploadedFile);
    const copyOnly = new Set(Object.values(config.paths).filter((name) => isUploaded(uploaded, name)));
    const changes = askChanges(ctx, rclone, remote, interrupt.signal, dryRun);
    const history = await startHistory(ctx, config, remote, rclone, 'backup', dryRun);
    runId = history?.runId;
    const plans = await planMappings(ctx, setup, remote, { only: options.only, dryRun, copyOnly, ignoreUnfinishedRestore: options.ignoreUnfinishedRestore, runId: history?.runId, twoWay: 'leave-out' });
    planned = plans.length;
    if (mode !== 'silent') {
      for (const name of config.sync ?? []) if (!options.only || options.only.includes(name)) ctx.out(`${name}: two-way: kept in step by \`poof sync\`, not mirrored by backup`);
    }
    if (mode !== 'silent') {
      for (const plan of plans.filter((p) => p.copyOnly && !p.refusal)) {
        ctx.out(`${plan.name}: uploaded before (its remote copy holds files no longer here), so it is copied without deleting anything on the remote`);
      }
      if (dryRun) for (const plan of plans) ctx.out(`[dry run] ${plan.name}: rclone ${plan.args.join(' ')}`);
    }
    const transfer = await chooseTransfer(ctx, rclone, remote, interrupt.signal, dryRun, history, changes);
    const view = await createRunView(ctx, mode, plans, { direction: 'backup', dryRun });
    const hooks = { emit: view.emit, log: log.write, cancelSignal: interrupt.signal, dryRun };
    const ran = await runAll<BackupResult>(
      plans,
      async (plan) => {
        if (dryRun || plan.refusal) return { ...(await runMapping(rclone, plan, hooks)), kind: 'backup' };
        const tracker = await trackBackup(ctx.paths.unfinishedFile, plan.name);
        const result = await transfer(plan, { ...hooks, emit: (event) => (view.emit(event), tracker.see(event)) });
        await tracker.finish(result);
        return { ...result, kind: 'backup' };
      },
      { cancelSignal: interrupt.signal, emit: view.emit },
    );
    await view.finish();
    const pruned = await pruneAfterRun(ctx, setup, remote, rclone, history, ran, interrupt.signal);
    if (pruned && 'error' in pruned) ctx.err(`poof: history: ${pruned.error}`);
    else if (pruned && mode !== 'silent') for (const plan of pruned.plans.filter((p) => p.removedVersions > 0)) for (const line of formatPrune(plan, false)) ctx.out(`history: ${line}`);
    return ran;
  });

  const { results } = outcome;
  if (options.json) {
    ctx.out(JSON.stringify({ ok: exitCode === 0, command: 'backup', dryRun, ...(runId ? { runId } : {}), ...(signal ? { interrupted: signal } : {}), exitCode, mappings: results, notRun: outcome.notRun }, null, 2));
    return exitCode;
  }
  for (const result of results.filter((r) => r.status === 'failed' && r.rcloneExit !== undefined && r.rcloneExit >= 0)) {
    const advice = result.advice;
    if (advice) ctx.err(`poof: ${result.name}: ${advice} (log: ${ctx.paths.logFile})`);
  }
  if (exitCode === 0) {
    if (!options.quiet) ctx.out(`backup ${dryRun ? 'dry run ' : ''}complete: ${results.length} of ${results.length} mappings ok`);
  } else if (exitCode === ExitCode.partial) {
    const files = results.flatMap((r) => r.unreadable ?? []);
    ctx.err(`poof: backup partly done: everything was copied except ${files.length} ${files.length === 1 ? 'file' : 'files'} that kept changing while being read${appendOnly ? ' or could not be read' : ''}; the next run tries again (exit ${ExitCode.partial})`);
  } else {
    const bad = results.filter((r) => r.status !== 'ok').length + outcome.notRun.length;
    // An interruption after the last mapping finished left nothing unfinished: the signal line said it all.
    if (bad > 0)     ctx.err(`poof: backup incomplete: ${bad} of ${planned} mappings did not finish; nothing was deleted locally`);
  }
  return exitCode;
}
