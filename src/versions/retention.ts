import { firstFolderAfter, indexFolders, type KeptVersions } from './state.js';
import type { RunManifest } from './manifest.js';
import { timeOfRunId } from './run-id.js';

/** poof.conf `keep`: which past runs stay restorable. */
export interface KeepPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  /** Every run younger than this: `30d`, `12h`, `8w`. */
  within?: string;
}

export const DEFAULT_KEEP: Required<Omit<KeepPolicy, 'within'>> & { within?: string } = { last: 10, daily: 14, weekly: 8, monthly: 12 };

/** Pure: a duration such as `30d` in milliseconds; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
}

/**
 * Pure: the complete runs the policy keeps, each with why, as restic's `forget` does: the `last`
 * N runs; for `daily`, `weekly` and `monthly`, the newest run of each of the N most recent days,
 * ISO weeks and months (local time) that have runs; every run `within` the duration of the
 * newest. The newest complete run is always kept.
 */
export function selectKept(
  runIds: string[],
  policy: KeepPolicy,
  timeZoneOffset: (d: Date) => number = (d) => d.getTimezoneOffset(),
  timeOf: (id: string) => Date = timeOfRunId,
): Map<string, string[]> {
  const runs = [...runIds].sort().reverse();
  const kept = new Map<string, string[]>();
  const keep = (id: string, why: string) => kept.set(id, [...(kept.get(id) ?? []), why]);
  if (runs[0]) keep(runs[0], 'newest');
  runs.slice(0, policy.last ?? 0).forEach((id) => keep(id, 'last'));
  const local = (id: string) => {
    const t = timeOf(id);
    return new Date(t.getTime() - timeZoneOffset(t) * 60_000);
  };
  const buckets: Array<[keyof KeepPolicy, (d: Date) => string]> = [
    ['daily', (d) => d.toISOString().slice(0, 10)],
    ['weekly', isoWeek],
    ['monthly', (d) => d.toISOString().slice(0, 7)],
  ];
  for (const [rule, bucketOf] of buckets) {
    const wanted = Number(policy[rule] ?? 0);
    const seen = new Set<string>();
    for (const id of runs) {
      if (seen.size >= wanted) break;
      const bucket = bucketOf(local(id));
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      keep(id, rule);
    }
  }
  const within = policy.within ? parseDuration(policy.within) : undefined;
  if (within !== undefined && runs[0]) {
    const newest = timeOf(runs[0]).getTime();
    for (const id of runs) if (newest - timeOf(id).getTime() <= within) keep(id, 'within');
  }
  return kept;
}

/** Pure: the ISO week (`2026-W49`) of a date given as UTC fields. */
function isoWeek(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** What a prune removes: stored versions no kept run needs, and records of runs not kept. */
export interface PrunePlan {
  /** By run id: the paths in its folder of kept versions to remove. */
  versions: Map<string, string[]>;
  /** Runs whose folder is removed entirely (nothing in it is needed any more). */
  emptiedRuns: string[];
  /** Run records to remove (runs no longer restorable). */
  records: string[];
  freedBytes: number;
  removedFiles: number;
}

/** What a prune needs of a run's record: its id and, when it finished, the names of its files. */
export interface RunNames {
  runId: string;
  /** Every file the run left; undefined for a run that did not finish. */
  names?: readonly string[];
}

/** Pure: the names of a run's files, from its record. */
export function namesOfRun(record: RunManifest): RunNames {
  return { runId: record.runId, ...(record.files ? { names: Object.keys(record.files) } : {}) };
}

/**
 * Pure: which stored versions no kept run needs. The version of F in run j's folder is what F
 * was for every run from the one that wrote it up to j-1: a kept run R needs it when R's record
 * lists F and j is the first run after R whose folder holds F (see state.ts). Everything else
 * in the folders can go, and so can the records of runs not kept (incomplete ones too, older
 * than the newest kept run). The mirror is never touched.
 */
export function planPrune(records: RunNames[], kept: KeptVersions, keep: Set<string>): PrunePlan {
  const needed = new Map<string, Set<string>>();
  const folders = [...kept.keys()].sort();
  const index = indexFolders(kept);
  for (const record of records) {
    if (!keep.has(record.runId) || !record.names) continue;
    for (const file of record.names) {
      const from = firstFolderAfter(index, file, record.runId);
      if (!from) continue;
      if (!needed.has(from)) needed.set(from, new Set());
      needed.get(from)!.add(file);
    }
  }
  const versions = new Map<string, string[]>();
  const emptiedRuns: string[] = [];
  let freedBytes = 0;
  let removedFiles = 0;
  for (const id of folders) {
    const stored = kept.get(id)!;
    const need = needed.get(id) ?? new Set<string>();
    const drop = [...stored.keys()].filter((file) => !need.has(file)).sort();
    if (drop.length === 0) continue;
    versions.set(id, drop);
    if (drop.length === stored.size) emptiedRuns.push(id);
    removedFiles += drop.length;
    for (const file of drop) freedBytes += stored.get(file)!;
  }
  const newestKept = [...keep].sort().at(-1) ?? '';
  const recordsToRemove = records.filter((r) => !keep.has(r.runId) && (r.names !== undefined || r.runId < newestKept)).map((r) => r.runId).sort();
  return { versions, emptiedRuns, records: recordsToRemove, freedBytes, removedFiles };
}
