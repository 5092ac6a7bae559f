import type { Context } from '../context.js';
import { formatRunRecord } from '../ui/format.js';
import { formatHistoryTotals } from '../ui/history-format.js';
import { loadRemoteSections } from '../rclone/conf-file.js';
import { resolveRemote } from '../rclone/remote.js';
import { ManifestCache, type HistoryTotals } from '../versions/store.js';
import type { PoofConfig } from '../config/schema.js';
import { loadConfig } from '../config/store.js';
import { ExitCode, PoofError, UsageError } from '../errors.js';
import { readRunRecords } from '../run/history.js';
import { DEFAULT_STALE_AFTER_HOURS, describeStaleMapping, findStaleMappings } from '../run/stale.js';
import type { OptionsOf, statusSpec } from './specs.js';

export async function statusCommand(ctx: Context, options: OptionsOf<typeof statusSpec>): Promise<number> {
  const count = options.last === undefined ? 10 : Number(options.last);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--last must be a whole number of runs, 1 or more, got "${options.last}"`);
  const history = await readRunRecords(ctx.paths.historyFile, Infinity);
  const records = history.slice(-count);
  const config = await loadConfigIfValid(ctx);
  const staleAfterHours = config?.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS;
  const stale = config ? findStaleMappings(Object.values(config.paths), history, new Date(), staleAfterHours) : null;
  const kept = config ? await historyTotals(ctx, config) : undefined;
  if (options.json) {
    ctx.out(JSON.stringify({ runs: records, staleAfterHours, stale, ...(kept ? { history: kept } : {}) }, null, 2));
    return ExitCode.ok;
  }
  if (records.length === 0) ctx.out(`no runs recorded yet (history: ${ctx.paths.historyFile})`);
  for (const record of records) ctx.out(formatRunRecord(record));
  for (const mapping of stale ?? []) ctx.out(`warning: ${describeStaleMapping(mapping, staleAfterHours)}`);
  if (kept) ctx.out(formatHistoryTotals(kept));
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

/** What the remote keeps, as this machine last listed it (no remote call: status is instant). */
async function historyTotals(ctx: Context, config: PoofConfig): Promise<HistoryTotals | undefined> {
  if (config.history === false) return undefined;
  try {
    const sections = await loadRemoteSections(ctx.paths, config, ctx);
    return await new ManifestCache(ctx.paths.stateDir, resolveRemote(config, sections.section, sections.baseSection, ctx.paths.rcloneConf)).totals();
  } catch {
    return undefined;
  }
}
