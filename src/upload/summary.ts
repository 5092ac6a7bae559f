import type { MappingResult } from '../backup/run-mapping.js';

const METHOD: Record<string, string> = { hash: 'by hash', cryptcheck: 'by cryptcheck', download: 'by downloading and comparing bytes' };
const WIPED: Record<string, string> = { trash: 'moved to the trash', delete: 'deleted', shred: 'shredded' };
const LISTED = 10;

/** Pure: what upload proved, wiped and kept for one mapping, and why files were kept. */
export function formatUploadReport(result: MappingResult, dryRun: boolean): string[] {
  const upload = result.upload;
  if (!upload) return [];
  const method = upload.method ? ` ${METHOD[upload.method] ?? upload.method}` : '';
  const head = dryRun
    ? `${result.name}: ${upload.proven} files already identical on the remote${method}; after the copy, proven files would be ${WIPED[upload.wipeMode]}`
    : `${result.name}: proven ${upload.proven}${method}; ${WIPED[upload.wipeMode]} ${upload.wiped}; kept ${upload.kept}${upload.removedDirs ? `; removed ${upload.removedDirs} emptied directories` : ''}`;
  const lines = [head];
  if (dryRun) return lines;
  for (const kept of upload.keptFiles.slice(0, LISTED)) lines.push(`  kept ${kept.path}: ${kept.reason}`);
  if (upload.kept > LISTED) lines.push(`  ... and ${upload.kept - LISTED} more kept (\`--json\` lists them)`);
  return lines;
}
