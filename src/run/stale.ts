import type { RunRecord } from './history.js';

/** Two days: a daily schedule may miss one run (a laptop asleep) before anyone is warned. */
export const DEFAULT_STALE_AFTER_HOURS = 48;

const HOUR_MS = 3_600_000;

export interface StaleMapping {
  name: string;
  /** The command and end time of its last successful run; null when it never had one. */
  lastOk: { command: string; ended: string } | null;
  /** Whole hours since then; null when it never had one. */
  ageHours: number | null;
}

/**
 * Pure: the mappings whose last successful backup, upload or two-way sync (dry runs do not count) ended more
 * than `staleAfterHours` before `now`, or that never had one. A mapping counts as backed up
 * when its own result was ok, even if another mapping of the same run failed.
 */
export function findStaleMappings(names: string[], records: RunRecord[], now: Date, staleAfterHours: number): StaleMapping[] {
  const lastOk = new Map<string, { command: string; ended: string; at: number }>();
  for (const record of records) {
    if (record.dryRun || (record.command !== 'backup' && record.command !== 'upload' && record.command !== 'sync')) continue;
    const at = Date.parse(record.ended);
    if (Number.isNaN(at)) continue;
    for (const mapping of record.mappings ?? []) {
      if (mapping.status !== 'ok') continue;
      const known = lastOk.get(mapping.name);
      if (!known || at > known.at) lastOk.set(mapping.name, { command: record.command, ended: record.ended, at });
    }
  }
  const stale: StaleMapping[] = [];
  for (const name of names) {
    const last = lastOk.get(name);
    if (!last) {
      stale.push({ name, lastOk: null, ageHours: null });
      continue;
    }
    const ageMs = now.getTime() - last.at;
    if (ageMs > staleAfterHours * HOUR_MS) stale.push({ name, lastOk: { command: last.command, ended: last.ended }, ageHours: Math.floor(ageMs / HOUR_MS) });
  }
  return stale;
}

/**
 * Pure: one line for a stale mapping, e.g.
 * "Documents: last successful backup 3 days ago (2026-11-22 08:00Z), more than 48 hours".
 */
export function describeStaleMapping(stale: StaleMapping, staleAfterHours: number): string {
  if (!stale.lastOk || stale.ageHours === null) return `${stale.name}: never backed up successfully`;
  const when = stale.lastOk.ended.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z');
  const age = stale.ageHours < 48 ? `${stale.ageHours} hours` : `${Math.floor(stale.ageHours / 24)} days`;
  return `${stale.name}: last successful ${stale.lastOk.command} ${age} ago (${when}), more than ${staleAfterHours} hours`;
}
