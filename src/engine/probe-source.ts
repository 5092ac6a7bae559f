import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SourceState } from '../safety/sources.js';

/** Look at a source directory: does it exist, and does it hold at least one file anywhere below? */
export async function probeSource(dir: string, followLinks: boolean): Promise<SourceState> {
  let info;
  try {
    info = await stat(dir);
  } catch {
    return { exists: false, isDirectory: false, hasFiles: false };
  }
  if (!info.isDirectory()) return { exists: true, isDirectory: false, hasFiles: false };
  return { exists: true, isDirectory: true, hasFiles: await holdsAFile(dir, followLinks, 0) };
}

// Stops at the first file, so the cost is tiny for any real directory.
async function holdsAFile(dir: string, followLinks: boolean, depth: number): Promise<boolean> {
  if (depth > 64) return false;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  const subdirs: string[] = [];
  for (const entry of entries) {
    if (entry.isFile()) return true;
    if (entry.isSymbolicLink()) {
      if (!followLinks) return true;
      try {
        const target = await stat(path.join(dir, entry.name));
        if (target.isFile()) return true;
        if (target.isDirectory()) subdirs.push(entry.name);
      } catch {
        // A dangling link holds no data.
      }
    } else if (entry.isDirectory()) subdirs.push(entry.name);
  }
  for (const sub of subdirs) if (await holdsAFile(path.join(dir, sub), followLinks, depth + 1)) return true;
  return false;
}
