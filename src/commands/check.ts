import type { Context } from '../context.js';
import { ExitCode, UsageError } from '../errors.js';
import { mappingPath } from '../rclone/remote.js';
import { openHistory } from '../run/open-history.js';
import { formatDrill } from '../ui/history-format.js';
import { DEFAULT_SAMPLE_PERCENT, drillRun, type DrillResult, type Sample } from '../versions/drill.js';
import { parseWhen, pickRun } from '../versions/when.js';
import type { checkSpec, OptionsOf } from './specs.js';

export async function checkCommand(ctx: Context, options: OptionsOf<typeof checkSpec>): Promise<number> {
  const sample = sampleOf(options);
  const at = options.at !== undefined ? parseWhen(options.at, new Date()) : undefined;
  if (options.at !== undefined && !at) throw new UsageError(`--at "${options.at}" is not a run or a time`, 'give a run id (poof history), a date such as 2026-11-20, a local time such as 2026-11-20T14:00, or an age such as 3d');
  const opened = await openHistory(ctx, options.only);
  const results: Array<DrillResult | { name: string; problem: string }> = [];
  for (const mapping of opened.mappings) {
    for (const damaged of mapping.manifests.filter((m) => m.damaged)) {
      ctx.err(`poof: ${mapping.name}: the record of run ${damaged.runId} cannot be read (${damaged.damaged}): it counts as a run that did not finish`);
    }
    const runs = mapping.manifests.map((m) => ({ id: m.runId, complete: m.status === 'complete' }));
    const runId = at ? pickRun(at, runs) : runs.filter((r) => r.complete).at(-1)?.id;
    const manifest = mapping.manifests.find((m) => m.runId === runId);
    if (!manifest?.files) {
      results.push({ name: mapping.name, problem: runId ? `run ${runId} did not finish: nothing to check against` : 'no run to check (history starts with the next backup that changes something)' });
      continue;
    }
    const target = { name: mapping.name, localDir: mapping.localDir, remotePath: mappingPath(opened.setup.config, opened.remote, mapping.name) };
    results.push(await drillRun(opened.rclone, opened.setup.config, opened.remote, target, manifest, mapping.kept, sample));
  }
  const ok = results.every((r) => !('problem' in r) && r.problems.length === 0);
  if (options.json) ctx.out(JSON.stringify({ ok, mappings: results }, null, 2));
  else for (const result of results) for (const line of formatDrill(result)) ctx.out(line);
  return ok ? ExitCode.ok : ExitCode.verifyFailed;
}

function sampleOf(options: OptionsOf<typeof checkSpec>): Sample {
  if (options.full && options.sample !== undefined) throw new UsageError('--full and --sample exclude each other', 'give one of them');
  if (options.full) return { kind: 'full' };
  const percent = options.sample === undefined ? DEFAULT_SAMPLE_PERCENT : Number(options.sample);
  if (!Number.isFinite(percent) || percent <= 0 || percent > 100) throw new UsageError(`--sample must be a percentage above 0 and at most 100, got "${options.sample}"`);
  return { kind: 'percent', percent };
}
