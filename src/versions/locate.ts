import path from 'node:path';
import { UsageError } from '../errors.js';
import { isInside, normalizeDir } from '../fs/paths.js';

/**
 * A file given as a local path in a mapped directory (absolute or relative to the working
 * directory) or as NAME/path: its mapping and its path inside it.
 */
export function locate(ctx: { cwd: string }, wanted: string, mappings: Array<{ name: string; localDir: string }>): { name: string; rel: string } {
  if (wanted.trim() === '') throw new UsageError('the path is empty', 'give a file in a mapped directory, e.g. ~/Documents/report.odt or Documents/report.odt');
  const absolute = normalizeDir(path.resolve(ctx.cwd, wanted));
  for (const m of mappings) {
    const dir = normalizeDir(m.localDir);
    if (isInside(absolute, dir)) return { name: m.name, rel: path.relative(dir, absolute).split(path.sep).join('/') };
  }
  const [first, ...rest] = wanted.split('/');
  const byName = mappings.find((m) => m.name === first);
  if (byName && rest.length > 0 && rest.every((part) => part !== '' && part !== '.' && part !== '..')) return { name: byName.name, rel: rest.join('/') };
  throw new UsageError(`${wanted} is in no mapped directory`, `give a file inside one of: ${mappings.map((m) => m.localDir).join(', ')} (or NAME/path)`);
}
