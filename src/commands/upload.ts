import { planBackup, storageType, type MappingPlan, type SourceState } from '../backup/plan.js';
import { probeSource } from '../backup/probe.js';
import { runAllMappings, type RunAllOutcome } from '../backup/run-all.js';
import { formatBytes } from '../backup/summary.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { effectiveTuning } from '../rclone/args.js';
import { isCrypt } from '../rclone/remote-path.js';
import { locateRclone } from '../rclone/runner.js';
import { openLogFile } from '../run/log-file.js';
import { withRunSession } from '../run/session.js';
import { loadRunSetup, type RunSetup } from '../run/setup.js';
import { withMonitoring } from '../run/monitoring.js';
import { requireCryptKey } from '../crypt/key-proof.js';
import { markUploaded } from '../run/uploaded.js';
import { isMountPoint } from '../safety/mount.js';
import { checkTarget } from '../safety/targets.js';
import { confirmOrDecline } from '../ui/prompts.js';
import { outputMode } from '../ui/task-list.js';
import { formatUploadReport } from '../upload/summary.js';
import { uploadMapping } from '../upload/run-upload.js';
import type { WipeMode } from '../wipe/execute.js';
import { snapshotTree } from '../wipe/snapshot.js';

interface UploadOptions {
  only?: string[];
  wipe?: WipeMode;
  yes?: boolean;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function uploadCommand(ctx: Context, options: UploadOptions): Promise<number> {
  const setup = await loadRunSetup(ctx, options.only);
  return withMonitoring(ctx, setup.config, 'upload', Boolean(options.dryRun), () => runUpload(ctx, options, setup));
}

async function runUpload(ctx: Context, options: UploadOptions, { config, section, baseSection, names }: RunSetup): Promise<number> {
  const wipeMode: WipeMode = options.wipe ?? config.wipe ?? 'trash';
  const symlinks = config.symlinks ?? 'follow';
  const rclone = await locateRclone({ env: ctx.env, cacheFile: ctx.paths.rcloneVersionCache });
  const sources: Record<string, SourceState> = {};
  for (const dir of Object.keys(config.paths)) sources[dir] = await probeSource(dir, symlinks === 'follow');
  const dryRun = Boolean(options.dryRun);
  // Always `rclone copy`: the remote keeps what earlier uploads wiped locally, and a mirror would delete it.
  const copyOnly = new Set(Object.values(config.paths));
  const plans = planBackup({ config, section, baseSection, configFile: ctx.paths.rcloneConf, only: options.only, dryRun, sources, copyOnly, allowEmpty: true });
  await refuseUnsafeTargets(ctx, plans, Boolean(options.force));

  const mode = outputMode(ctx, options);
  if (wipeMode === 'shred' && mode !== 'silent') {
    ctx.err('poof: shred overwrites each file before deleting it, as a best effort: SSDs and copy-on-write or journalling file systems (APFS, btrfs, ZFS) may keep the old blocks');
  }
  let outcome: RunAllOutcome = { results: [], notRun: [], errors: [], planned: [] };
  const exitCode = await withRunSession(ctx, 'upload', dryRun, async (interrupt) => {
    await requireCryptKey(rclone, ctx.paths.rcloneConf, section, names, interrupt.signal);
    if (!dryRun) {
      await confirmUpload(ctx, plans, wipeMode, options);
      await markUploaded(ctx.paths.uploadedFile, plans.filter((p) => !p.refusal).map((p) => p.name), new Date());
    }
    const { default: trash } = await import('trash');
    const log = openLogFile(ctx.paths.logFile);
    const settings = {
      proof: {
        configFile: ctx.paths.rcloneConf,
        symlinks,
        excludes: config.excludes,
        checkers: config.rclone?.checkers,
        fastList: effectiveTuning(storageType(section, baseSection), isCrypt(section), config.rclone).fastList,
      },
      crypt: isCrypt(section),
      wipeMode,
      symlinks,
      dryRun,
    };
    try {
      outcome = await runAllMappings(rclone, plans, {
        mode,
        dryRun,
        cancelSignal: interrupt.signal,
        log: log.write,
        runOne: (plan, hooks) => uploadMapping(rclone, plan, settings, hooks, (files) => trash(files, { glob: false })),
      });
    } finally {
      await log.close();
    }
    return outcome;
  });
  for (const line of outcome.errors) ctx.err(`poof: ${line}`);

  const { results } = outcome;
  if (options.json) {
    ctx.out(JSON.stringify({ ok: exitCode === 0, command: 'upload', dryRun, wipeMode, exitCode, storage: storageType(section, baseSection), mappings: results, notRun: outcome.notRun }, null, 2));
    return exitCode;
  }
  if (!options.quiet) for (const result of results) for (const line of formatUploadReport(result, dryRun)) ctx.out(line);
  if (exitCode === 0) {
    if (!options.quiet) ctx.out(`upload ${dryRun ? 'dry run ' : ''}complete: ${results.length} of ${results.length} mappings ok`);
  } else {
    const bad = results.filter((r) => r.status !== 'ok').length + outcome.notRun.length;
    ctx.err(`poof: upload incomplete: ${bad} of ${plans.length} mappings did not finish; no local file was wiped without proof (log: ${ctx.paths.logFile})`);
  }
  return exitCode;
}

/** Refuse what must never be wiped: /, home, poof's own dirs; and mount points unless --force. */
async function refuseUnsafeTargets(ctx: Context, plans: MappingPlan[], force: boolean): Promise<void> {
  const places = { home: ctx.home, configDir: ctx.paths.configDir, stateDir: ctx.paths.stateDir };
  for (const plan of plans) {
    if (plan.refusal) continue;
    const reason = await checkTarget(plan.localDir, places);
    if (reason) plan.refusal = `${reason}; upload never wipes it`;
    else if (!force && (await isMountPoint(plan.localDir))) {
      plan.refusal = `${plan.localDir} is a mount point (another disk); pass --force to upload and wipe it anyway`;
    }
  }
}

/** Ask before wiping, showing what is at stake; without a terminal, --yes is required. */
async function confirmUpload(ctx: Context, plans: MappingPlan[], wipeMode: WipeMode, options: UploadOptions): Promise<void> {
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
  await confirmOrDecline(message, 'upload cancelled; nothing was changed');
}
