import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** One entry below a directory that is not a directory: a file, a link, or something else. */
export interface EntryBelow {
  /** Relative to the directory walked, with "/". */
  rel: string;
  kind: 'file' | 'link' | 'other';
  size: number;
}

/**
 * Everything below `root` that is not a directory, links not followed (an unreadable folder is
 * left out, a missing root is empty): a folder created or moved in whole, or a keep folder.
 */
export async function entriesBelow(root: string): Promise<EntryBelow[]> {
  const out: EntryBelow[] = [];
  const pending = [''];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const name = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        pending.push(name);
        continue;
      }
      const kind = entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'link' : 'other';
      out.push({ rel: name, kind, size: kind === 'file' ? ((await lstat(path.join(root, name)).catch(() => undefined))?.size ?? 0) : 0 });
    }
  }
  return out;
}
