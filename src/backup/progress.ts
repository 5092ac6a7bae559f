import type { RcloneStats } from '../rclone/log-parse.js';
import { formatBytes } from './summary.js';

/** Pure: one progress line from rclone's stats, e.g. "3/10 files, 1.2 MiB/4.0 MiB, 2.1 MiB/s, ETA 2s". */
export function formatProgress(stats: RcloneStats): string {
  const files = `${stats.transfers}/${stats.totalTransfers} files`;
  const bytes = `${formatBytes(stats.bytes)}/${formatBytes(stats.totalBytes)}`;
  const speed = `${formatBytes(Math.round(stats.speed))}/s`;
  const eta = stats.eta === null ? 'ETA -' : `ETA ${formatDuration(stats.eta)}`;
  const errors = stats.errors > 0 ? `, ${stats.errors} errors` : '';
  return `${files}, ${bytes}, ${speed}, ${eta}${errors}`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
