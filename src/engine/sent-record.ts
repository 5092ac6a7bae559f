import type { ChangeDetection } from '../rclone/features.js';

export type { ChangeDetection };

/** One local file as a backup last sent it: size, modification time (ns text), mode. */
export type SentEntry = [size: number, modTime: string, mode?: string];

/** Every file of a mapping as the last successful backup saw it, by path. */
export type SentRecord = Record<string, SentEntry>;

/** Pure: a record from `rclone lsjson -R --files-only -M` output. */
export function recordFromListing(json: string, withModes: boolean): SentRecord {
  const record: SentRecord = {};
  for (const item of JSON.parse(json) as Array<{ Path: string; Size: number; ModTime: string; Metadata?: { mode?: string } }>) {
    record[item.Path] = withModes && item.Metadata?.mode ? [item.Size, item.ModTime, item.Metadata.mode] : [item.Size, item.ModTime];
  }
  return record;
}

/**
 * Pure: the files that differ now in size, time or (where kept) mode from what was sent, and
 * those the record does not hold (excluded then, or new: for a new file this only moves its
 * first copy earlier). These are the changes rclone cannot see: any edit on storage that keeps
 * neither times nor hashes, and a mode change where modes are kept (rclone never re-sends a file
 * whose size, time and content are unchanged, so `chmod 600` would never reach the backup).
 */
export function changedSinceSent(now: SentRecord, sent: SentRecord): string[] {
  const changed: string[] = [];
  for (const [file, entry] of Object.entries(now)) {
    const before = sent[file];
    if (!before) {
      changed.push(file);
      continue;
    }
    if (before[0] !== entry[0] || before[1] !== entry[1] || (before[2] !== undefined && entry[2] !== undefined && before[2] !== entry[2])) changed.push(file);
  }
  return changed.sort();
}
