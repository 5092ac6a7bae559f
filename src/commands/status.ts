import type { Context } from '../context.js';
import { formatBytes } from '../ui/format.js';
import type { PoofConfig } from '../config/schema.js';
import { loadConfig } from '../config/store.js';
import { ExitCode, PoofError, UsageError } from '../errors.js';
import { readRunRecords, type RunRecord } from '../run/history.js';
import { DEFAULT_STALE_AFTER_HOURS, describeStaleMapping, findStaleMappings } from '../run/stale.js';
import type { OptionsOf, statusSpec } from './specs.js';

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

export async function statusCommand(ctx: Context, options: OptionsOf<typeof statusSpec>): Promise<number> {
  const count = options.last === undefined ? 10 : Number(options.last);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--last must be a whole number of runs, got "${options.last}"`);
  const history = await readRunRecords(ctx.paths.historyFile, Infinity);
  const records = history.slice(-count);
  const config = await loadConfigIfValid(ctx);
  const staleAfterHours = config?.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS;
  const stale = config ? findStaleMappings(Object.values(config.paths), history, new Date(), staleAfterHours) : null;
  if (options.json) {
    ctx.out(JSON.stringify({ runs: records, staleAfterHours, stale }, null, 2));
    return ExitCode.ok;
  }
  if (records.length === 0) ctx.out(`no runs recorded yet (history: ${ctx.paths.historyFile})`);
  for (const record of records) ctx.out(formatRunRecord(record));
  for (const mapping of stale ?? []) ctx.out(`warning: ${describeStaleMapping(mapping, staleAfterHours)}`);
  return ExitCode.ok;
}

/** The history is worth showing without a valid poof.conf; only the stale warnings need one. */
async function loadConfigIfValid(ctx: Context): Promise<PoofConfig | undefined> {
  try {
    return (await loadConfig(ctx.paths)).config;
  } catch (error) {
    if (error instanceof PoofError) return undefined;
    throw error;
  }
}
