import { planBackup, type SourceState } from '../backup/plan.js';
import { probeSource } from '../backup/probe.js';
import { runAllMappings, type RunAllOutcome } from '../backup/run-all.js';
import type { Context } from '../context.js';
import { describeRcloneExit } from '../rclone/exit-codes.js';
import { locateRclone } from '../rclone/runner.js';
import { openLogFile } from '../run/log-file.js';
import { isUploaded, readUploaded } from '../run/uploaded.js';
import { withRunSession } from '../run/session.js';
import { loadRunSetup, type RunSetup } from '../run/setup.js';
import { withMonitoring } from '../run/monitoring.js';
import { outputMode } from '../ui/task-list.js';

interface BackupOptions {
  only?: string[];
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function backupCommand(ctx: Context, options: BackupOptions): Promise<number> {
  const setup = await loadRunSetup(ctx, options.only);
  return withMonitoring(ctx, setup.config, 'backup', Boolean(options.dryRun), () => runBackup(ctx, options, setup));
}

async function runBackup(ctx: Context, options: BackupOptions, { config, section, baseSection }: RunSetup): Promise<number> {
  const rclone = await locateRclone({ env: ctx.env, cacheFile: ctx.paths.rcloneVersionCache });

  const sources: Record<string, SourceState> = {};
  for (const dir of Object.keys(config.paths)) sources[dir] = await probeSource(dir, (config.symlinks ?? 'follow') === 'follow');
  const dryRun = Boolean(options.dryRun);
  const uploaded = await readUploaded(ctx.paths.uploadedFile);
  const copyOnly = new Set(Object.values(config.paths).filter((name) => isUploaded(uploaded, name)));
  const plans = planBackup({ config, section, baseSection, configFile: ctx.paths.rcloneConf, only: options.only, dryRun, sources, copyOnly });

  const mode = outputMode(ctx, options);
  if (mode !== 'silent') {
    for (const plan of plans.filter((p) => p.copyOnly && !p.refusal)) {
      ctx.out(`${plan.name}: uploaded before (its remote copy holds files no longer here), so it is copied without deleting anything on the remote`);
    }
  }
  if (dryRun && mode !== 'silent') for (const plan of plans) ctx.out(`[dry run] ${plan.name}: rclone ${plan.args.join(' ')}`);
  let outcome: RunAllOutcome = { results: [], notRun: [], errors: [], planned: [] };
  const exitCode = await withRunSession(ctx, 'backup', dryRun, async (interrupt) => {
    const log = openLogFile(ctx.paths.logFile);
    try {
      outcome = await runAllMappings(rclone, plans, { mode, dryRun, cancelSignal: interrupt.signal, log: log.write });
    } finally {
      await log.close();
    }
    return outcome;
  });
  if (mode !== 'silent') for (const line of outcome.planned) ctx.out(line);
  for (const line of outcome.errors) ctx.err(`poof: ${line}`);

  const { results } = outcome;
  const ok = exitCode === 0;
  if (options.json) {
    ctx.out(JSON.stringify({ ok, command: 'backup', dryRun, exitCode, mappings: results, notRun: outcome.notRun }, null, 2));
    return exitCode;
  }
  for (const result of results.filter((r) => r.status === 'failed' && r.rcloneExit !== undefined)) {
    const advice = describeRcloneExit(result.rcloneExit ?? 0).advice;
    if (advice) ctx.err(`poof: ${result.name}: ${advice} (log: ${ctx.paths.logFile})`);
  }
  if (ok) {
    if (!options.quiet) ctx.out(`backup ${dryRun ? 'dry run ' : ''}complete: ${results.length} of ${results.length} mappings ok`);
  } else {
    const bad = results.filter((r) => r.status !== 'ok').length + outcome.notRun.length;
    ctx.err(`poof: backup incomplete: ${bad} of ${plans.length} mappings did not finish; nothing was deleted locally`);
  }
  return exitCode;
}
