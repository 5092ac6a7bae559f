import { totalSize, type RestoreChanges, type RestoreTarget } from '../restore/plan.js';
import { formatBytes } from './format.js';

const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Pure: the lines that show one mapping's restore plan, listing at most `limit` endangered files. */
export function formatRestorePlan(
  target: RestoreTarget & { remoteFiles?: number; remoteBytes?: number; changes?: RestoreChanges },
  limit: number,
): string[] {
  const head = `${target.name}: ${target.localDir} <- ${target.remotePath}`;
  if (target.refusal) return [`${head}: REFUSED: ${target.refusal}`];
  const lines = [`${head} (${count(target.remoteFiles ?? 0, 'file')}, ${formatBytes(target.remoteBytes ?? 0)} on the remote)`];
  const changes = target.changes;
  if (!changes) return lines;
  lines.push(
    `  ${count(changes.restore.length, 'new file')} (${formatBytes(totalSize(changes.restore))}) to restore; ` +
      `${count(changes.replace.length, 'local file')} to replace; ${count(changes.remove.length, 'local file')} to delete` +
      (changes.touch > 0 ? `; ${count(changes.touch, 'modification time')} to correct` : ''),
  );
  const endangered = [
    ...changes.replace.map((f) => `  replace  ${f.path} (${formatBytes(f.size)})`),
    ...changes.remove.map((f) => `  delete   ${f.path} (${formatBytes(f.size)})`),
  ];
  lines.push(...endangered.slice(0, limit));
  if (endangered.length > limit) lines.push(`  ... and ${endangered.length - limit} more (\`poof download --dry-run --json\` lists every one)`);
  return lines;
}
