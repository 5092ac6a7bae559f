import type { MappingResult } from './run-mapping.js';

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

/** Pure: one line per mapping. */
export function formatResult(result: MappingResult, dryRun: boolean): string {
  if (result.status === 'refused') return `${result.name}: REFUSED: ${result.reason}`;
  const verb = dryRun ? 'would copy' : 'copied';
  const del = dryRun ? 'would delete' : 'deleted';
  const bytes = result.stats ? formatBytes(result.stats.bytes) : '0 B';
  const errors = result.stats?.errors ?? result.errors.length;
  const facts = `${verb} ${result.copied} ${result.copied === 1 ? 'file' : 'files'} (${bytes}), ${del} ${result.deleted}, ${errors} ${errors === 1 ? 'error' : 'errors'}, ${(result.durationMs / 1000).toFixed(1)} s`;
  if (result.status === 'ok') return `${result.name}: ok: ${facts}`;
  return `${result.name}: FAILED: ${result.reason}; ${facts}`;
}
