import type { Context } from '../context.js';
import type { MappingPlan } from '../engine/plan.js';
import { runAll } from '../engine/run-all.js';
import { UsageError } from '../errors.js';
import { trackBackup } from '../run/inflight.js';
import { runPipeline } from '../run/pipeline.js';
import { planMappings } from '../run/plan-mappings.js';
import { askChanges, chooseTransfer, pruneAfterRun, startHistory } from '../run/transfer.js';
import { formatPrune } from '../ui/history-format.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { markUploaded } from '../run/uploaded.js';
import { refuseWipeTargets } from '../safety/wipe-targets.js';
import { formatBytes, formatUploadReport } from '../ui/format.js';
import { confirmOrDecline } from '../ui/prompts.js';
import { createRunView, outputMode } from '../ui/run-view.js';
import { uploadMapping } from '../upload/run-upload.js';
import type { WipeMode } from '../wipe/execute.js';
import { snapshotTree } from '../wipe/snapshot.js';
import type { OptionsOf, uploadSpec } from './specs.js';

export type UploadOptions = OptionsOf<typeof uploadSpec>;

export async function uploadCommand(ctx: Context, options: UploadOptions): Promise<number> {
  const dryRun = Boolean(options.dryRun);
  const mode = outputMode(ctx, options);
  let planned = 0;
  let wipeMode: WipeMode = options.wipe ?? 'trash';
  let storage = 'unknown';
  let runId: string | undefined;
  const { exitCode, outcome, signal } = await runPipeline(ctx, { command: 'upload', dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt, log }) => {
    const { config, names } = setup;
    wipeMode = options.wipe ?? config.wipe ?? 'trash';
    storage = remote.storageType;
    const symlinks = config.symlinks ?? 'follow';
    // Always `rclone copy`: the remote keeps what earlier uploads wiped locally, and a mirror would delete it.
    const copyOnly = new Set(Object.values(config.paths));
    const changes = askChanges(ctx, rclone, remote, interrupt.signal, dryRun);
    const history = await startHistory(ctx, config, remote, rclone, 'upload', dryRun);
    runId = history?.runId;
    const plans = await planMappings(ctx, setup, remote, { only: options.only, dryRun, copyOnly, allowEmpty: true, ignoreUnfinishedRestore: options.ignoreUnfinishedRestore, runId: history?.runId, twoWay: 'refuse' });
    planned = plans.length;
    await refuseWipeTargets(plans, { home: ctx.home, configDir: ctx.paths.configDir, stateDir: ctx.paths.stateDir }, Boolean(options.force));
    if (wipeMode === 'shred' && mode !== 'silent') {
      ctx.err('poof: shred overwrites each file before deleting it, as a best effort: SSDs and copy-on-write or journalling file systems (APFS, btrfs, ZFS) may keep the old blocks');
    }
    await requireCryptKey(rclone, remote, names, interrupt.signal, !dryRun);
    if (!dryRun) {
      await confirmUpload(ctx, plans, wipeMode, options, interrupt.signal);
    }
    const { default: trash } = await import('trash');
    const settings = {
      proof: { configFile: remote.configFile, symlinks, backendType: remote.storageType, crypt: remote.crypt, excludes: config.excludes, checkers: config.rclone?.checkers, fastList: remote.tuning.fastList },
      crypt: remote.crypt,
      wipeMode,
      symlinks,
      dryRun,
      beforeWipe: (name: string) => markUploaded(ctx.paths.uploadedFile, [name], new Date()),
      transfer: await chooseTransfer(ctx, rclone, remote, interrupt.signal, dryRun, history, changes),
    };
    const view = await createRunView(ctx, mode, plans, { direction: 'backup', dryRun });
    const hooks = { emit: view.emit, log: log.write, cancelSignal: interrupt.signal, dryRun };
    const moveToTrash = (files: string[]) => trash(files, { glob: false });
    const ran = await runAll(
      plans,
      async (plan) => {
        if (dryRun || plan.refusal) return uploadMapping(rclone, plan, settings, hooks, moveToTrash);
        const tracker = await trackBackup(ctx.paths.unfinishedFile, plan.name);
        const result = await uploadMapping(rclone, plan, settings, { ...hooks, emit: (event) => (view.emit(event), tracker.see(event)) }, moveToTrash);
        await tracker.finish(result);
        return result;
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
    ctx.out(JSON.stringify({ ok: exitCode === 0, command: 'upload', dryRun, ...(runId ? { runId } : {}), ...(signal ? { interrupted: signal } : {}), wipeMode, exitCode, storage, mappings: results, notRun: outcome.notRun }, null, 2));
    return exitCode;
  }
  if (!options.quiet) for (const result of results) for (const line of formatUploadReport(result, dryRun)) ctx.out(line);
  if (exitCode === 0) {
    if (!options.quiet) ctx.out(`upload ${dryRun ? 'dry run ' : ''}complete: ${results.length} of ${results.length} mappings ok`);
  } else {
    const bad = results.filter((r) => r.status !== 'ok').length + outcome.notRun.length;
    // An interruption after the last mapping finished left nothing unfinished: the signal line said it all.
    if (bad > 0)     ctx.err(`poof: upload incomplete: ${bad} of ${planned} mappings did not finish; no local file was wiped without proof (log: ${ctx.paths.logFile})`);
  }
  return exitCode;
}

/** Ask before wiping, showing what is at stake; without a terminal, --yes is required. */
async function confirmUpload(ctx: Context, plans: MappingPlan[], wipeMode: WipeMode, options: UploadOptions, signal: AbortSignal): Promise<void> {
  if (options.yes) return;
  let files = 0;
  let bytes = 0;
  for (const plan of plans.filter((p) => !p.refusal)) {
    for (const state of (await snapshotTree(plan.localDir)).values()) {
      files++;
      bytes += state.size;
    }
  }
  if (files === 0) return;
  const how = { trash: 'moved to the trash', delete: 'deleted permanently', shred: 'overwritten and deleted permanently' }[wipeMode];
  const what = `${files} local ${files === 1 ? 'file' : 'files'} (${formatBytes(bytes)})`;
  if (!ctx.interactive) {
    throw new UsageError(`upload would copy, prove and then wipe up to ${what}; nothing was changed`, `run it on a terminal to confirm, or pass --yes (files are ${how})`);
  }
  const message = `Upload, prove and then wipe up to ${what} from ${plans.filter((p) => !p.refusal).map((p) => p.localDir).join(', ')}? Proven files are ${how}.`;
  await confirmOrDecline(message, 'upload cancelled; nothing was changed', signal);
}
