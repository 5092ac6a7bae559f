import type { RcloneStats } from '../rclone/log-parse.js';
import type { KeptFile } from '../wipe/plan.js';
import type { WipeMode } from '../wipe/execute.js';

/** What one rclone transfer of one mapping did, whichever way it went. */
export interface TransferResult {
  name: string;
  localDir: string;
  remotePath: string;
  /** partial: everything was copied but files that kept changing while rclone read them. */
  status: 'ok' | 'partial' | 'failed' | 'refused';
  reason?: string;
  /** What the user can do about a failed rclone run. */
  advice?: string;
  /** Files that kept changing while rclone read them, on every try: not copied this time. */
  unreadable?: string[];
  rcloneExit?: number;
  stats?: RcloneStats;
  /** Files copied (or, in a dry run, that would be), each counted once whatever rclone logged. */
  copied: number;
  /** Files deleted at the destination (or, in a dry run, that would be). */
  deleted: number;
  errors: string[];
  durationMs: number;
  /** With history kept: the versions this run replaced or deleted, now in its folder on the remote. */
  kept?: { files: number; bytes: number };
  /** poof stopped rclone because the remote stopped answering: nothing more is asked of it this run. */
  remoteGone?: boolean;
}

/** What upload did after the copy: proven on the remote, wiped locally, kept. */
export interface UploadReport {
  method?: 'hash' | 'cryptcheck' | 'download';
  proven: number;
  wiped: number;
  kept: number;
  /** The first kept files with their reasons (all of them are counted in `kept`). */
  keptFiles: KeptFile[];
  removedDirs: number;
  wipeMode: WipeMode;
}

export interface BackupResult extends TransferResult {
  kind: 'backup';
}

export interface UploadResult extends TransferResult {
  kind: 'upload';
  /** Missing when the copy itself failed: then nothing was proven or wiped. */
  upload?: UploadReport;
}

export interface RestoreResult extends TransferResult {
  kind: 'restore';
  /** Local files moved aside (trash or keptIn) before they were replaced or deleted. */
  trashed: number;
  /** --keep-dir: where they are, when any were kept there. */
  keptIn?: string;
}

/** `poof check`: a restore drill of one mapping; failed when a file read back is missing or differs. */
export interface CheckResult extends TransferResult {
  kind: 'check';
  /** Files read back from the remote. */
  checked: number;
}

/** `poof sync`: one two-way mapping kept in step by rclone bisync. */
export interface SyncResult extends TransferResult {
  kind: 'sync';
  /** Files copied to the remote and to this machine. */
  toRemote: number;
  toLocal: number;
  /** Files changed on both sides since the last sync: both copies were kept. */
  conflicts: number;
  /** A --resync: files that differed on the two sides, kept on both as two copies. */
  keptBoth?: string[];
  /** The last sync was cut short: both sides were joined again, as by --resync. */
  rejoined?: boolean;
  /** A --resync (or a careful re-join): bisync copies without naming each file, so no counts. */
  joined?: boolean;
}

/** `poof watch`: what it copied of one mapping over its whole life, by list and by full backups. */
export interface WatchResult extends TransferResult {
  kind: 'watch';
  batches: number;
  backups: number;
}

export type MappingResult = BackupResult | UploadResult | RestoreResult | CheckResult | SyncResult | WatchResult;

/**
 * Pure: the stats of several rclone passes over one mapping (a forced re-send, the main sync, a
 * retry) as one: counters add up, so the totals agree with the files counted as copied. Errors
 * are those of the passes that decided the outcome (`errorsFrom`), not of a pass whose failing
 * files were retried.
 */
export function sumStats(passes: (RcloneStats | undefined)[], errorsFrom: (RcloneStats | undefined)[] = passes): RcloneStats | undefined {
  const present = passes.filter((s): s is RcloneStats => s !== undefined);
  if (present.length === 0) return undefined;
  const sum = (key: 'bytes' | 'totalBytes' | 'transfers' | 'totalTransfers' | 'checks' | 'deletes' | 'elapsedTime') => present.reduce((total, s) => total + s[key], 0);
  const elapsedTime = sum('elapsedTime');
  return {
    bytes: sum('bytes'),
    totalBytes: sum('totalBytes'),
    transfers: sum('transfers'),
    totalTransfers: sum('totalTransfers'),
    checks: sum('checks'),
    deletes: sum('deletes'),
    errors: errorsFrom.reduce((total, s) => total + (s?.errors ?? 0), 0),
    elapsedTime,
    speed: elapsedTime > 0 ? sum('bytes') / elapsedTime : 0,
    eta: null,
    transferring: [],
  };
}

/** Pure: a result for a mapping that was refused before anything ran. */
export function refusedTransfer(plan: { name: string; localDir: string; remotePath: string }, reason: string): TransferResult {
  return { name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, status: 'refused', reason, copied: 0, deleted: 0, errors: [], durationMs: 0 };
}

/** Pure: `{ stats }` when there are any, for spreading into a result. */
export function withStats(stats: RcloneStats | undefined): { stats?: RcloneStats } {
  return stats ? { stats } : {};
}
