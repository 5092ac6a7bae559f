import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { isInside, normalizeDir } from '../fs/paths.js';

/** The places a wipe or a restore must never touch. */
export interface ProtectedPlaces {
  home: string;
  configDir: string;
  stateDir: string;
}

/**
 * Pure: why `dir` must not be wiped or restored into, or undefined when it may be. Refused: the
 * root, the home directory itself and any directory above it, and poof's own config and state
 * directories, anything inside them and any directory containing them. The original poof's
 * only guard was the substring "poof" in the path.
 */
export function refuseTarget(dir: string, places: ProtectedPlaces): string | undefined {
  const target = normalizeDir(dir);
  if (target === '/') return `${target} is the root directory`;
  const home = normalizeDir(places.home);
  if (target === home) return `${target} is your home directory itself; map its subdirectories instead`;
  if (isInside(home, target)) return `${target} contains your home directory`;
  for (const [label, place] of [
    ['config', places.configDir],
    ['state', places.stateDir],
  ] as const) {
    const own = normalizeDir(place);
    if (target === own) return `${target} is poof's ${label} directory`;
    if (isInside(own, target)) return `${target} contains poof's ${label} directory ${own}`;
    if (isInside(target, own)) return `${target} is inside poof's ${label} directory ${own}`;
  }
  return undefined;
}

/**
 * The same check on the paths as given and as the file system resolves them, so a symbolic
 * link to the home directory is refused like the home directory itself.
 */
export async function checkTarget(dir: string, places: ProtectedPlaces): Promise<string | undefined> {
  const direct = refuseTarget(dir, places);
  if (direct) return direct;
  const real = async (p: string) => realpath(p).catch(() => p);
  const resolved: ProtectedPlaces = { home: await real(places.home), configDir: await real(places.configDir), stateDir: await real(places.stateDir) };
  const target = await real(dir);
  const reason = refuseTarget(target, resolved);
  return reason && target !== normalizeDir(dir) ? `${dir} resolves to ${reason}` : reason;
}

/**
 * `download --to DIR` must name a directory that can hold side-by-side copies: not empty (which
 * would mean the working directory), not the root, not a file, and not inside a mapped directory
 * (the restored copy would be backed up, or mirrored away, as part of it). A usage error, before
 * anything is written.
 */
export async function refuseRestoreRoot(raw: string, resolved: string, mappedDirs: string[]): Promise<string | undefined> {
  if (raw.trim() === '') return '--to is empty; give the directory to restore into, e.g. --to ~/restored';
  if (normalizeDir(resolved) === '/') return '--to / would restore into the root directory; give a directory such as --to ~/restored';
  const info = await stat(resolved).catch(() => undefined);
  if (info && !info.isDirectory()) return `--to ${resolved} is not a directory; give a directory (it is created when missing)`;
  // A missing --to is created: every part of it that exists must be a directory.
  let existing = resolved;
  while (!(await stat(existing).catch(() => undefined)) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const parent = await stat(existing).catch(() => undefined);
  if (parent && !parent.isDirectory()) return `--to ${resolved} cannot be created: ${existing} is not a directory; give a directory`;
  // Where it really is: a link to / is the root directory too.
  const real = path.join(await realpath(existing).catch(() => existing), path.relative(existing, resolved));
  if (normalizeDir(real) === '/') return `--to ${resolved} is the root directory (through a link); give a directory such as --to ~/restored`;
  for (const dir of mappedDirs) {
    const mapped = normalizeDir(dir);
    const mappedReal = await realpath(mapped).catch(() => mapped);
    if ([resolved, real].some((t) => normalizeDir(t) === mapped || isInside(normalizeDir(t), mapped) || normalizeDir(t) === mappedReal || isInside(normalizeDir(t), mappedReal))) {
      return `--to ${resolved} is inside the mapped directory ${mapped}; restore outside every mapped directory`;
    }
  }
  return undefined;
}

/** Pure: `--to DIR` puts each mapping at DIR/NAME; that must not be, hold or sit in another mapping. */
export function refuseOverMapped(localDir: string, mappedDirs: string[]): string | undefined {
  const target = normalizeDir(localDir);
  for (const dir of mappedDirs.map(normalizeDir)) {
    if (target === dir || isInside(target, dir) || isInside(dir, target)) {
      return `${target} would restore into (or over) the mapped directory ${dir}; choose another --to`;
    }
  }
  return undefined;
}
