import { lstatSync } from 'node:fs';

/** What poof keeps of a stored copy's lstat: a plain file's size, times (ns) and mode. */
export interface StoredCopy {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  mode: bigint;
}

/**
 * The lstat of a copy in a mirror on this machine's disk, kept small (a BigIntStats takes about
 * a kilobyte: 100,000 of them would be 100 MB); undefined when it is not a plain file there.
 */
export function lookAtStoredCopy(file: string): StoredCopy | undefined {
  try {
    const info = lstatSync(file, { bigint: true, throwIfNoEntry: false });
    return info?.isFile() ? { size: info.size, mtimeNs: info.mtimeNs, ctimeNs: info.ctimeNs, mode: info.mode } : undefined;
  } catch {
    return undefined;
  }
}
