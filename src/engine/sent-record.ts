import type { ChangeDetection } from '../rclone/features.js';
import { dict } from '../dict.js';

export type { ChangeDetection };

/** One local file as a backup last sent it: size, modification time (ns text), mode. */
export type SentEntry = [size: number, modTime: string, mode?: string];

/** Every file of a mapping as the last successful backup saw it, by path. */
export type SentRecord = Record<string, SentEntry>;

/** Pure: a record from `rclone lsjson -R --files-only -M` output. */
export function recordFromListing(json: string, withModes: boolean): SentRecord {
  const record: SentRecord = dict();
  for (const item of JSON.parse(json) as Array<{ Path: string; Size: number; ModTime: string; Metadata?: { mode?: string } }>) {
    record[item.Path] = withModes && item.Metadata?.mode ? [item.Size, item.ModTime, item.Metadata.mode] : [item.Size, item.ModTime];
  }
  return record;
}

/**
 * Pure: the files whose change since they were sent rclone's own comparison (size and time)
 * would miss: a mode change where modes are kept (rclone never re-sends a file whose size, time
 * and content are unchanged, so `chmod 600` would never reach the backup), and an edit that kept
 * the size within the storage's time precision (two saves in one second over SFTP). Where the
 * storage keeps no times (`precisionNs` undefined), every change of size or time, and every file
 * the record does not hold (excluded then, or new: for a new file this only moves its first copy
 * earlier). A file rclone sees as changed anyway is left to it: sending it in a pass of its own
 * costs a pass.
 */
export function changedSinceSent(now: SentRecord, sent: SentRecord, precisionNs?: number): string[] {
  return compareWithSent(now, sent, precisionNs).changed;
}

/**
 * Pure: changedSinceSent, whether `now` is the record itself (the same files with the same size,
 * time and mode, spelled the same: then it need not be written again), and the files the record
 * does not hold. One pass: each lookup in a record of 100,000 files costs.
 */
export function compareWithSent(now: SentRecord, sent: SentRecord, precisionNs?: number): { changed: string[]; same: boolean; unknown: string[] } {
  const changed: string[] = [];
  const unknown: string[] = [];
  const window = precisionNs === undefined ? undefined : 2n * BigInt(Math.ceil(precisionNs));
  let same = true;
  let count = 0;
  for (const file in now) {
    const entry = now[file]!;
    const before = sent[file];
    count++;
    if (!before) {
      same = false;
      unknown.push(file);
      if (window === undefined) changed.push(file);
      continue;
    }
    if (before[0] === entry[0] && before[1] === entry[1] && before[2] === entry[2] && before.length === entry.length) continue;
    same = false;
    if (before[2] !== undefined && entry[2] !== undefined && before[2] !== entry[2]) changed.push(file);
    else if (before[0] !== entry[0] || !sameTime(before[1], entry[1])) {
      if (window === undefined || before[0] !== entry[0]) {
        if (window === undefined) changed.push(file);
        continue;
      }
      const [was, is] = [nanosOf(before[1]), nanosOf(entry[1])];
      const apart = was > is ? was - is : is - was;
      if (was < 0n || is < 0n || apart <= window) changed.push(file);
    }
  }
  if (same && count !== Object.keys(sent).length) same = false;
  return { changed: changed.sort(), same, unknown };
}

/**
 * Pure: the entry of a file sent whose state poof did not see (it appeared after the walk): its
 * next walk differs from it in every way, so the file is sent again then, as it is then.
 */
export function unseenEntry(withModes: boolean): SentEntry {
  return withModes ? [-1, 'unseen', 'unseen'] : [-1, 'unseen'];
}

/** Pure: two RFC 3339 times are the same instant (rclone and poof's own walk spell them differently). */
function sameTime(a: string, b: string): boolean {
  if (a === b) return true;
  const ns = nanosOf(a);
  return ns >= 0n && ns === nanosOf(b);
}

/** Pure: an RFC 3339 time as rclone prints it, in nanoseconds since the epoch; -1 when it is not one. */
export function nanosOf(time: string): bigint {
  const parts = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  const seconds = parts ? Date.parse(`${parts[1]}${parts[3]}`) : NaN;
  if (!parts || Number.isNaN(seconds)) return -1n;
  return BigInt(seconds) * 1_000_000n + BigInt((parts[2] ?? '').padEnd(9, '0'));
}
