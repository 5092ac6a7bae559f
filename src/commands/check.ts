import type { Context } from '../context.js';
import { ExitCode, UsageError } from '../errors.js';
import { mappingPath } from '../rclone/remote.js';
import { readHistory } from '../run/open-history.js';
import { runPipeline } from '../run/pipeline.js';
import type { CheckResult } from '../engine/result.js';
import { formatDrill } from '../ui/history-format.js';
import { formatUnrecordedRun } from '../ui/format.js';
import { unfinishedNewest } from '../versions/store.js';
import { DEFAULT_SAMPLE_PERCENT, drillRun, type DrillResult, type Sample } from '../versions/drill.js';
import { parseWhen, pickRun } from '../versions/when.js';
import { vaultLayout } from '../vault/versions.js';
import type { checkSpec, OptionsOf } from './specs.js';

export async function checkCommand(ctx: Context, options: OptionsOf<typeof checkSpec>): Promise<number> {
  const sample = sampleOf(options);
  const at = options.at !== undefined ? parseWhen(options.at, new Date()) : undefined;
  if (options.at !== undefined && !at) throw new UsageError(`--at "${options.at}" is not a run or a time`, 'give a run id (poof history), a date such as 2026-11-20, a local time such as 2026-11-20T14:00, or an age such as 3d');
  const results: Array<DrillResult | { name: string; problem: string }> = [];
  // Under the lock, as a run: a backup or prune must not change what is being read back, and a
  // scheduled check that finds a problem is in the run history and notifies like a failed backup.
  const { exitCode } = await runPipeline(ctx, { command: 'check', dryRun: false, only: options.only, failedCode: ExitCode.verifyFailed }, async ({ setup, remote, rclone, interrupt }) => {
    const opened = await readHistory(ctx, { setup, remote, rclone }, options.only, interrupt.signal);
    const checked: CheckResult[] = [];
    const twoWay = new Set(setup.config.sync ?? []);
    for (const mapping of opened.mappings) {
      // A two-way mapping's remote copy is changed by `poof sync`, never recorded as a run: a
      // drill against its last backup would report every sync as damage.
      if (twoWay.has(mapping.name)) {
        ctx.err(`poof: ${mapping.name}: two-way ("sync" in poof.conf): its remote copy changes with every sync, so there is no run to check it against`);
        continue;
      }
      const started = Date.now();
      for (const damaged of mapping.manifests.filter((m) => m.damaged)) {
        ctx.err(`poof: ${mapping.name}: the record of run ${damaged.runId} cannot be read (${damaged.damaged}): it counts as a run that did not finish`);
      }
      const runs = mapping.manifests.map((m) => ({ id: m.runId, complete: m.status === 'complete' }));
      const runId = at ? pickRun(at, runs) : runs.filter((r) => r.complete).at(-1)?.id;
      // A newer run than the one checked that did not finish (its folder without a record, or
      // a record saying so): the mirror a download restores may hold a file it cut short.
      const unfinished = at ? undefined : unfinishedNewest(runs, [...mapping.kept.keys()]);
      if (unfinished) ctx.err(`poof: ${formatUnrecordedRun(mapping.name, unfinished)}`);
      const manifest = mapping.manifests.find((m) => m.runId === runId);
      const target = { name: mapping.name, localDir: mapping.localDir, remotePath: mappingPath(setup.config, remote, mapping.name) };
      let result: DrillResult | { name: string; problem: string };
      if (!manifest?.files) result = { name: mapping.name, problem: runId ? `run ${runId} did not finish: nothing to check against` : 'no run to check (history starts with the next backup that changes something)' };
      else result = await drillRun(rclone, setup.config, remote, target, manifest, mapping.kept, sample, interrupt.signal, setup.config.mode === 'append-only' ? vaultLayout(manifest, remote) : undefined);
      results.push(result);
      const problems = 'problem' in result ? [result.problem] : result.problems.map((p) => `${p.path}: ${p.problem}`);
      checked.push({
        kind: 'check',
        name: mapping.name,
        localDir: mapping.localDir,
        remotePath: target.remotePath,
        status: problems.length === 0 ? 'ok' : 'failed',
        ...(problems.length > 0 ? { reason: `${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}: ${problems.slice(0, 3).join('; ')}` } : {}),
        checked: 'problem' in result ? 0 : result.checked,
        copied: 0,
        deleted: 0,
        errors: problems.slice(0, 20),
        durationMs: Date.now() - started,
      });
    }
    return { results: checked, notRun: [] };
  });
  const ok = exitCode === ExitCode.ok;
  if (options.json) ctx.out(JSON.stringify({ ok, mappings: results }, null, 2));
  else for (const result of results) for (const line of formatDrill(result)) ctx.out(line);
  return exitCode;
}

function sampleOf(options: OptionsOf<typeof checkSpec>): Sample {
  if (options.full && options.sample !== undefined) throw new UsageError('--full and --sample exclude each other', 'give one of them');
  if (options.full) return { kind: 'full' };
  const percent = options.sample === undefined ? DEFAULT_SAMPLE_PERCENT : Number(options.sample);
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100) throw new UsageError(`--sample must be a percentage above 0 and at most 100, got "${options.sample}"`);
  return { kind: 'percent', percent };
}
