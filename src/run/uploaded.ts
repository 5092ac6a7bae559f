import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { readTextIfExists } from '../config/store.js';
import path from 'node:path';
import { asDict, copyDict, dict } from '../dict.js';

/**
 * The mappings `poof upload` has run on, by name, with when. Their remote copies hold files
 * that are no longer local, so a later mirror (`rclone sync`) would delete them: every later
 * backup of such a mapping copies instead, deleting nothing on the remote.
 */
export async function readUploaded(file: string): Promise<Record<string, string>> {
  const text = await readTextIfExists(file);
  if (text === undefined) return dict();
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('not an object');
    return asDict(data as Record<string, string>);
  } catch {
    // A damaged file must not turn uploads back into mirrors: treat every mapping as uploaded.
    return copyDict({ '*': 'unreadable' });
  }
}

/** Pure: is this mapping to be copied rather than mirrored? */
export function isUploaded(uploaded: Record<string, string>, name: string): boolean {
  return Object.hasOwn(uploaded, name) || Object.hasOwn(uploaded, '*');
}

/** Record mappings as uploaded, just before their first file is wiped (a crash afterwards must not lose that). */
export async function markUploaded(file: string, names: string[], when: Date): Promise<void> {
  const current = await readUploaded(file);
  const next = copyDict(current);
  for (const name of names) next[name] = when.toISOString();
  await ensurePrivateDir(path.dirname(file));
  await writeFileAtomic(file, `${JSON.stringify(next, null, 2)}\n`);
}
