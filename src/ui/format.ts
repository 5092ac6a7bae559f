import type { Direction } from '../engine/events.js';
import type { MappingResult, TransferResult } from '../engine/result.js';
import type { RcloneStats } from '../rclone/log-parse.js';
import type { RunRecord } from '../run/history.js';
import type { UnfinishedBackup } from '../run/unfinished.js';

/** Pure: a human size, 1024-based, as rclone prints it. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Pure: one progress line from rclone's stats, e.g. "3/10 files, 1.2 MiB/4.0 MiB, 2.1 MiB/s, ETA 2s". */
export function formatProgress(stats: RcloneStats): string {
  const files = `${stats.transfers}/${stats.totalTransfers} files`;
  const bytes = `${formatBytes(stats.bytes)}/${formatBytes(stats.totalBytes)}`;
  const speed = `${formatBytes(Math.round(stats.speed))}/s`;
  const eta = stats.eta === null ? 'ETA -' : `ETA ${formatDuration(stats.eta)}`;
  const errors = stats.errors > 0 ? `, ${stats.errors} errors` : '';
  return `${files}, ${bytes}, ${speed}, ${eta}${errors}`;
}

/** Pure: the title of a mapping while it runs. */
export function formatTitle(plan: { name: string; localDir: string; remotePath: string }, direction: Direction, dryRun: boolean): string {
  return `${plan.name}: ${plan.localDir} ${direction === 'backup' ? '->' : '<-'} ${plan.remotePath}${dryRun ? ' (dry run)' : ''}`;
}

/** Pure: the facts of one mapping's result, without its name and status. */
export function formatFacts(result: MappingResult | TransferResult, dryRun: boolean, direction: Direction = 'backup'): string {
  const restore = direction === 'restore';
  const verb = dryRun ? (restore ? 'would restore' : 'would copy') : restore ? 'restored' : 'copied';
  const del = dryRun ? (restore ? 'would delete locally' : 'would delete') : restore ? 'deleted locally' : 'deleted';
  const bytes = result.stats ? formatBytes(result.stats.bytes) : '0 B';
  const errors = result.stats?.errors ?? result.errors.length;
  const trashed = 'kind' in result && result.kind === 'restore' ? result.trashed : 0;
  const keptIn = 'kind' in result && result.kind === 'restore' ? result.keptIn : undefined;
  return [
    `${verb} ${plural(result.copied, 'file')} (${bytes})`,
    `${del} ${result.deleted}`,
    ...(trashed ? [`${trashed} replaced or deleted local ${trashed === 1 ? 'file' : 'files'} ${keptIn ? `kept in ${keptIn}` : 'in the trash'}`] : []),
    ...(result.kept ? [`${plural(result.kept.files, 'replaced version')} kept (${formatBytes(result.kept.bytes)})`] : []),
    plural(errors, 'error'),
    `${(result.durationMs / 1000).toFixed(1)} s`,
  ].join(', ');
}

/** Pure: one line per mapping. */
export function formatResult(result: MappingResult | TransferResult, dryRun: boolean, direction: Direction = 'backup'): string {
  if (result.status === 'refused') return `${result.name}: REFUSED: ${result.reason}`;
  const facts = formatFacts(result, dryRun, direction);
  if (result.status === 'ok') return `${result.name}: ok: ${facts}`;
  if (result.status === 'partial') return `${result.name}: PARTLY DONE: ${result.reason}; ${facts}`;
  return `${result.name}: FAILED: ${result.reason}; ${facts}`;
}

const METHOD: Record<string, string> = { hash: 'by hash', cryptcheck: 'by cryptcheck', download: 'by downloading and comparing bytes' };
const WIPED: Record<string, string> = { trash: 'moved to the trash', delete: 'deleted', shred: 'shredded' };
const KEPT_LISTED = 10;

/** Pure: what upload proved, wiped and kept for one mapping, and why files were kept. */
export function formatUploadReport(result: MappingResult, dryRun: boolean): string[] {
  if (result.kind !== 'upload' || !result.upload) return [];
  const upload = result.upload;
  const method = upload.method ? ` ${METHOD[upload.method] ?? upload.method}` : '';
  const head = dryRun
    ? `${result.name}: ${upload.proven} files already identical on the remote${method}; after the copy, proven files would be ${WIPED[upload.wipeMode]}`
    : `${result.name}: proven ${upload.proven}${method}; ${WIPED[upload.wipeMode]} ${upload.wiped}; kept ${upload.kept}${upload.removedDirs ? `; removed ${upload.removedDirs} emptied directories` : ''}`;
  const lines = [head];
  if (dryRun) return lines;
  for (const kept of upload.keptFiles.slice(0, KEPT_LISTED)) lines.push(`  kept ${kept.path}: ${kept.reason}`);
  if (upload.kept > KEPT_LISTED) lines.push(`  ... and ${upload.kept - KEPT_LISTED} more kept (\`--json\` lists them)`);
  return lines;
}

/** Pure: one line per run, newest last. */
export function formatRunRecord(record: RunRecord): string {
  const when = record.started.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const seconds = (Date.parse(record.ended) - Date.parse(record.started)) / 1000;
  const copied = record.mappings.reduce((sum, m) => sum + m.copied, 0);
  const bytes = record.mappings.reduce((sum, m) => sum + m.bytes, 0);
  const bad = record.mappings.filter((m) => m.status !== 'ok').map((m) => `${m.name} ${m.status}`);
  const status = record.status === 'ok' ? 'ok' : `${record.status} (exit ${record.exitCode})`;
  const dry = record.dryRun ? ' [dry run]' : '';
  const did = record.command === 'check'
    ? `${record.mappings.reduce((sum, m) => sum + (m.checked ?? 0), 0)} files read back and compared`
    : `${copied} files ${record.dryRun ? 'would be copied' : 'copied'} (${formatBytes(bytes)})`;
  return `${when}  ${record.command}${dry}  ${status}: ${record.mappings.length} mappings, ${did}, ${seconds.toFixed(1)} s${bad.length ? `; ${bad.join(', ')}` : ''}${record.reason ? `; ${record.reason}` : ''}`;
}

/** Pure: the warning a restore gives when the mapping's last backup did not finish. */
/** Pure: the warning for a newest run the remote shows without its record (a machine stopped or lost mid-run). */
export function formatUnrecordedRun(name: string, run: { runId: string; before?: string | undefined; recorded?: boolean | undefined }): string {
  const back = run.before ? `\`poof restore --at ${run.before} --only ${name}\` brings back the last run that finished` : 'no earlier run has a record to restore instead';
  if (run.recorded) return `${name}: warning: the newest backup run on the remote (${run.runId}) did not finish: a file it was writing may be cut short in the remote copy, or missing from it; ${back}`;
  // A `poof watch` window has no record until the full backup that ends it: say both.
  return `${name}: warning: the newest run on the remote (${run.runId}) has no record: if it was a backup that was stopped or lost with its machine, a file it was writing may be cut short in the remote copy, or missing from it, and ${back}; if it is a \`poof watch\` still running, its changes are recorded at its next full backup`;
}

export function formatUnfinishedBackup(name: string, backup: UnfinishedBackup): string {
  // rclone names the files it is writing once a second: one started after its last report is not named.
  const files = backup.inFlight.length
    ? `these files were being written and may be incomplete on the remote: ${backup.inFlight.slice(0, 10).join(', ')}${backup.inFlight.length > 10 ? `, and ${backup.inFlight.length - 10} more` : ''} (and any file started in its last second)`
    : 'rclone had named no file it was writing (it names them once a second), so a file started in its last second may be incomplete on the remote';
  return `${name}: warning: the last backup (started ${backup.started}) did not finish; ${files}; \`poof backup\` completes the remote copy`;
}
