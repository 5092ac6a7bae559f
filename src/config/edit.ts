import path from 'node:path';
import type { PoofConfig, SymlinkMode } from './schema.js';
import { normalizeDir } from './validate.js';

export interface ConfigChanges {
  map?: string[];
  unmap?: string[];
  remote?: string;
  bucket?: string;
  exclude?: string[];
  symlinks?: SymlinkMode;
}

export interface Where {
  cwd: string;
  home: string;
}

export function hasChanges(changes: ConfigChanges): boolean {
  return Boolean(
    changes.map?.length || changes.unmap?.length || changes.remote || changes.bucket || changes.exclude?.length || changes.symlinks,
  );
}

/** Pure: an absolute, normalised directory from user input (`~/x`, relative, trailing slash). */
export function resolveDir(input: string, where: Where): string {
  const expanded = input === '~' ? where.home : input.startsWith('~/') ? path.join(where.home, input.slice(2)) : input;
  return normalizeDir(path.resolve(where.cwd, expanded));
}

/**
 * Pure: parse `--map DIR=NAME` (NAME defaults to the directory's own name). The last "=" splits,
 * since a directory may contain "=" but a remote name may not contain "/".
 */
export function parseMapArg(arg: string, where: Where): { dir: string; name: string } | { error: string } {
  if (arg.startsWith('=')) return { error: `--map "${arg}": the directory is empty; use --map DIR=NAME` };
  const eq = arg.lastIndexOf('=');
  const hasName = eq > 0 && !arg.slice(eq + 1).includes('/');
  const dirPart = hasName ? arg.slice(0, eq) : arg;
  const dir = resolveDir(dirPart, where);
  const name = hasName ? arg.slice(eq + 1) : path.basename(dir);
  if (name === '') return { error: `--map "${arg}": give the remote name as --map DIR=NAME` };
  return { dir, name };
}

/** Pure: apply command-line changes to a config. Validation of the result happens after. */
export function applyConfigChanges(base: PoofConfig, changes: ConfigChanges, where: Where): { config: PoofConfig; errors: string[] } {
  const errors: string[] = [];
  const paths: Record<string, string> = { ...base.paths };
  for (const target of changes.unmap ?? []) {
    const asDir = resolveDir(target, where);
    const keys = Object.keys(paths).filter((dir) => paths[dir] === target || normalizeDir(dir) === asDir);
    if (keys.length === 0) errors.push(`--unmap "${target}": no mapping has that directory or remote name`);
    for (const key of keys) delete paths[key];
  }
  for (const arg of changes.map ?? []) {
    const parsed = parseMapArg(arg, where);
    if ('error' in parsed) {
      errors.push(parsed.error);
      continue;
    }
    // Re-mapping a directory replaces its old entry (which may be spelled with a trailing slash).
    for (const key of Object.keys(paths)) if (normalizeDir(key) === parsed.dir) delete paths[key];
    paths[parsed.dir] = parsed.name;
  }
  const config: PoofConfig = { ...base, paths };
  if (changes.remote) config.remote = changes.remote;
  if (changes.bucket) config.bucket = changes.bucket;
  if (changes.symlinks) config.symlinks = changes.symlinks;
  if (changes.exclude?.length) config.excludes = [...new Set([...(base.excludes ?? []), ...changes.exclude])];
  return { config, errors };
}
