import type { Context } from '../context.js';
import { formatBytes } from '../ui/format.js';
import { ExitCode, UsageError } from '../errors.js';
import { readRunRecords, type RunRecord } from '../run/history.js';

/** Pure: one line per run, newest last. */
export function formatRunRecord(record: RunRecord): string {
  const when = record.started.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const seconds = (Date.parse(record.ended) - Date.parse(record.started)) / 1000;
  const copied = record.mappings.reduce((sum, m) => sum + m.copied, 0);
  const bytes = record.mappings.reduce((sum, m) => sum + m.bytes, 0);
  const bad = record.mappings.filter((m) => m.status !== 'ok').map((m) => `${m.name} ${m.status}`);
  const status = record.status === 'ok' ? 'ok' : `${record.status} (exit ${record.exitCode})`;
  const dry = record.dryRun ? ' [dry run]' : '';
  return `${when}  ${record.command}${dry}  ${status}: ${record.mappings.length} mappings, ${copied} files copied (${formatBytes(bytes)}), ${seconds.toFixed(1)} s${bad.length ? `; ${bad.join(', ')}` : ''}${record.reason ? `; ${record.reason}` : ''}`;
}

export async function statusCommand(ctx: Context, options: { json?: boolean; last?: string }): Promise<number> {
  const count = options.last === undefined ? 10 : Number(options.last);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--last must be a whole number of runs, got "${options.last}"`);
  const records = await readRunRecords(ctx.paths.historyFile, count);
  if (options.json) {
    ctx.out(JSON.stringify({ runs: records }, null, 2));
    return ExitCode.ok;
  }
  if (records.length === 0) ctx.out(`no runs recorded yet (history: ${ctx.paths.historyFile})`);
  for (const record of records) ctx.out(formatRunRecord(record));
  return ExitCode.ok;
}
