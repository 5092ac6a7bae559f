import path from 'node:path';

/** What a local file looked like: any change to it changes one of these (ctime cannot be set back). */
export interface FileState {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** In "links" mode rclone names a symbolic link "x.rclonelink"; this is then the real name "x". */
  linkName?: string;
  /** Reached through a symbolic link to a directory: it may live outside the mapped directory. */
  viaLink?: boolean;
}

export interface KeptFile {
  path: string;
  reason: string;
}

export interface WipePlan {
  /** Relative paths, proven on the remote and unchanged since the snapshot taken before the proof. */
  wipe: string[];
  kept: KeptFile[];
}

export function sameState(a: FileState | undefined, b: FileState | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * Pure: the files to wipe. A file qualifies only when the proof found it identical on the
 * remote AND it is exactly as it was in the snapshot taken before the proof began (so the proof
 * saw its current content). Everything else local stays, with the reason.
 */
export function planWipe(input: {
  proven: string[];
  unproven: KeptFile[];
  before: ReadonlyMap<string, FileState>;
  after: ReadonlyMap<string, FileState>;
}): WipePlan {
  const wipe: string[] = [];
  const kept: KeptFile[] = [...input.unproven];
  const accounted = new Set([...input.proven, ...input.unproven.map((k) => k.path)]);
  for (const rel of input.proven) {
    if (!isSafeRelative(rel)) kept.push({ path: rel, reason: 'not a plain path below the directory' });
    else if (!input.before.has(rel)) kept.push({ path: rel, reason: 'created after the proof began' });
    else if (input.before.get(rel)?.viaLink) kept.push({ path: rel, reason: 'reached through a linked directory, which may lie outside the mapping' });
    else if (!sameState(input.before.get(rel), input.after.get(rel))) kept.push({ path: rel, reason: 'changed after the proof began' });
    else wipe.push(rel);
  }
  for (const rel of input.after.keys()) {
    if (!accounted.has(rel)) kept.push({ path: rel, reason: 'not proven on the remote (excluded, or not copied)' });
  }
  return { wipe, kept };
}

/** Pure: a relative path that stays below its directory. */
export function isSafeRelative(rel: string): boolean {
  if (rel === '' || path.posix.isAbsolute(rel)) return false;
  const normal = path.posix.normalize(rel);
  return normal === rel && normal !== '..' && !normal.startsWith('../');
}
