import type { MappingResult } from './run-mapping.js';

/** Which way the files went: local -> remote, or remote -> local. */
export type TransferKind = 'backup' | 'restore';

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

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Pure: one line per mapping. */
export function formatResult(result: MappingResult, dryRun: boolean, kind: TransferKind = 'backup'): string {
  if (result.status === 'refused') return `${result.name}: REFUSED: ${result.reason}`;
  const copy = kind === 'backup' ? 'copied' : 'restored';
  const remove = kind === 'backup' ? 'deleted' : 'deleted locally';
  const verb = dryRun ? `would ${copy === 'copied' ? 'copy' : 'restore'}` : copy;
  const del = dryRun ? `would ${kind === 'backup' ? 'delete' : 'delete locally'}` : remove;
  const bytes = result.stats ? formatBytes(result.stats.bytes) : '0 B';
  const errors = result.stats?.errors ?? result.errors.length;
  const facts = [
    `${verb} ${plural(result.copied, 'file')} (${bytes})`,
    `${del} ${result.deleted}`,
    ...(result.trashed ? [`${result.trashed} replaced or deleted local ${result.trashed === 1 ? 'file' : 'files'} ${result.keptIn ? `kept in ${result.keptIn}` : 'in the trash'}`] : []),
    plural(errors, 'error'),
    `${(result.durationMs / 1000).toFixed(1)} s`,
  ].join(', ');
  if (result.status === 'ok') return `${result.name}: ok: ${facts}`;
  return `${result.name}: FAILED: ${result.reason}; ${facts}`;
}
