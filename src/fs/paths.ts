import path from 'node:path';

/** Where relative paths and `~` in user input are resolved from. */
export interface Where {
  cwd: string;
  home: string;
}

/** Pure: a POSIX path without a trailing slash (except "/" itself). */
export function normalizeDir(dir: string): string {
  const normal = path.posix.normalize(dir);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Pure: is child strictly below parent? */
export function isInside(child: string, parent: string): boolean {
  const rel = path.posix.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith('../') && !path.posix.isAbsolute(rel);
}

/** Pure: an absolute, normalised directory from user input (`~/x`, relative, trailing slash). */
export function resolveDir(input: string, where: Where): string {
  const expanded = input === '~' ? where.home : input.startsWith('~/') ? path.join(where.home, input.slice(2)) : input;
  return normalizeDir(path.resolve(where.cwd, expanded));
}

