import { appendFile } from 'node:fs/promises';
import { planBackup, type SourceState } from '../backup/plan.js';
import { probeSource } from '../backup/probe.js';
import { runMapping, type MappingResult } from '../backup/run-mapping.js';
import { formatResult } from '../backup/summary.js';
import type { Context } from '../context.js';
import { loadRemoteSections } from '../config/rclone-conf.js';
import { loadConfig } from '../config/store.js';
import { ExitCode, UsageError } from '../errors.js';
import { ensurePrivateDir } from '../fs/atomic-write.js';
import { describeRcloneExit } from '../rclone/exit-codes.js';
import { locateRclone } from '../rclone/runner.js';

interface BackupOptions {
  only?: string[];
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export async function backupCommand(ctx: Context, options: BackupOptions): Promise<number> {
  const { config } = await loadConfig(ctx.paths);
  const { section, baseSection } = await loadRemoteSections(ctx.paths, config);
  const names = Object.values(config.paths);
  for (const name of options.only ?? []) {
    if (!names.includes(name)) throw new UsageError(`--only "${name}" is not a mapping`, `use one of: ${names.join(', ')}`);
  }
  const rclone = await locateRclone({ env: ctx.env });

  const sources: Record<string, SourceState> = {};
  for (const dir of Object.keys(config.paths)) sources[dir] = await probeSource(dir, (config.symlinks ?? 'follow') === 'follow');
  const dryRun = Boolean(options.dryRun);
  const plans = planBackup({ config, section, baseSection, configFile: ctx.paths.rcloneConf, only: options.only, dryRun, sources });

  const say = options.json || options.quiet ? () => {} : ctx.out;
  await ensurePrivateDir(ctx.paths.stateDir);
  const log = (line: string) => appendFile(ctx.paths.logFile, `${line}\n`, { mode: 0o600 }).catch(() => {});

  const results: MappingResult[] = [];
  for (const plan of plans) {
    say(`${plan.name}: ${plan.localDir} -> ${plan.remotePath}${dryRun ? ' (dry run)' : ''}`);
    if (dryRun) say(`  rclone ${plan.args.join(' ')}`);
    await log(`# ${new Date().toISOString()} backup ${plan.name}: rclone ${plan.args.join(' ')}`);
    const result = await runMapping(rclone, plan, {
      onLine: (line) => void log(line),
      onEvent: (event) => {
        if (dryRun && event.kind === 'file' && event.action === 'skipped') say(`  would ${/delet/i.test(event.message) ? 'delete' : 'copy'} ${event.object}`);
        if (event.kind === 'error') ctx.err(`poof: ${plan.name}: ${event.object ? `${event.object}: ` : ''}${event.message}`);
      },
    });
    results.push(result);
    const line = formatResult(result, dryRun);
    if (result.status === 'ok') say(line);
    else ctx.err(`poof: ${line}`);
    if (result.status === 'failed' && result.rcloneExit !== undefined) {
      const advice = describeRcloneExit(result.rcloneExit).advice;
      if (advice) ctx.err(`poof: ${plan.name}: ${advice} (log: ${ctx.paths.logFile})`);
    }
  }

  const ok = results.every((r) => r.status === 'ok');
  if (options.json) ctx.out(JSON.stringify({ ok, command: 'backup', dryRun, mappings: results }, null, 2));
  else if (!options.quiet) {
    const failed = results.filter((r) => r.status !== 'ok').length;
    if (ok) say(`backup ${dryRun ? 'dry run ' : ''}complete: ${results.length} of ${results.length} mappings ok`);
    else ctx.err(`poof: backup incomplete: ${failed} of ${results.length} mappings did not finish; nothing was deleted locally`);
  }
  return ok ? ExitCode.ok : ExitCode.runFailed;
}
