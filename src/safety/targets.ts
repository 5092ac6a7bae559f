import { realpath } from 'node:fs/promises';
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
