import { randomFillSync } from 'node:crypto';
import { lstat, open, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { sameState, type FileState, type KeptFile, type WipePlan } from './plan.js';

/** trash: the OS trash (recoverable); delete: unlink; shred: overwrite, then unlink (best effort). */
export type WipeMode = 'trash' | 'delete' | 'shred';

export interface WipeOutcome {
  wiped: string[];
  kept: KeptFile[];
  /** Set when wiping stopped on an error: nothing after it was touched. */
  error?: string;
  removedDirs: number;
}

const TRASH_BATCH = 500;
const SHRED_CHUNK = 1024 * 1024;

/**
 * Wipe exactly the planned files. Each is checked once more right before it goes; one that
 * changed since the snapshot stays. The first error stops the wipe: what is left stays.
 * Directories emptied by the wipe are removed; the mapped directory itself stays.
 */
export async function executeWipe(
  dir: string,
  plan: WipePlan,
  before: ReadonlyMap<string, FileState>,
  mode: WipeMode,
  moveToTrash: (files: string[]) => Promise<void>,
): Promise<WipeOutcome> {
  const wiped: string[] = [];
  const kept: KeptFile[] = [...plan.kept];
  let error: string | undefined;
  let batch: Array<{ rel: string; local: string }> = [];
  const unchanged = async (rel: string, local: string) => {
    const state = before.get(rel);
    if (sameState(state, await currentState(local, Boolean(state?.linkName)))) return true;
    kept.push({ path: rel, reason: 'changed after the proof began' });
    return false;
  };

  // Trash in batches (one call per few hundred files), each file checked just before its batch.
  const flush = async () => {
    if (batch.length === 0) return;
    const files: typeof batch = [];
    for (const f of batch) if (await unchanged(f.rel, f.local)) files.push(f);
    batch = [];
    if (files.length === 0) return;
    try {
      await moveToTrash(files.map((f) => f.local));
      wiped.push(...files.map((f) => f.rel));
    } catch (e) {
      // Some of the batch may have gone: count what is no longer there.
      for (const f of files) {
        if (await lstat(f.local).then(() => false, () => true)) wiped.push(f.rel);
        else kept.push({ path: f.rel, reason: 'the wipe stopped on an error' });
      }
      throw e;
    }
  };

  try {
    for (const rel of plan.wipe) {
      const state = before.get(rel);
      const local = path.join(dir, state?.linkName ?? rel);
      if (!isBelow(local, dir)) {
        kept.push({ path: rel, reason: 'not below the directory' });
        continue;
      }
      if (mode === 'trash') {
        batch.push({ rel, local });
        if (batch.length >= TRASH_BATCH) await flush();
        continue;
      }
      if (!(await unchanged(rel, local))) continue;
      if (mode === 'shred') await overwrite(local);
      await unlink(local);
      wiped.push(rel);
    }
    await flush();
  } catch (e) {
    error = (e as Error).message;
  }
  if (error) {
    const done = new Set([...wiped, ...kept.map((k) => k.path)]);
    for (const rel of plan.wipe) if (!done.has(rel)) kept.push({ path: rel, reason: 'the wipe stopped on an error' });
  }
  const removedDirs = await removeEmptiedDirs(dir, wiped.map((rel) => before.get(rel)?.linkName ?? rel));
  return { wiped, kept, removedDirs, ...(error ? { error } : {}) };
}

async function currentState(file: string, isLink: boolean): Promise<FileState | undefined> {
  try {
    const info = isLink ? await lstat(file) : await stat(file);
    return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
  } catch {
    return undefined;
  }
}

/**
 * Overwrite a regular file with random bytes and flush it to the disk before it is unlinked.
 * Best effort only: SSDs (wear levelling) and copy-on-write or journalling file systems (APFS,
 * btrfs, ZFS) keep old blocks elsewhere. A symbolic link is never written through.
 */
async function overwrite(file: string): Promise<void> {
  const info = await lstat(file);
  if (!info.isFile()) return;
  const handle = await open(file, 'r+');
  try {
    const chunk = Buffer.alloc(Math.min(SHRED_CHUNK, Math.max(1, info.size)));
    for (let offset = 0; offset < info.size; offset += chunk.length) {
      randomFillSync(chunk);
      await handle.write(chunk, 0, Math.min(chunk.length, info.size - offset), offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Remove directories that the wipe left empty, deepest first, never the mapped directory. */
async function removeEmptiedDirs(dir: string, wipedRel: string[]): Promise<number> {
  const candidates = new Set<string>();
  for (const rel of wipedRel) {
    let parent = path.posix.dirname(rel);
    while (parent !== '.' && parent !== '/' && parent !== '') {
      candidates.add(parent);
      parent = path.posix.dirname(parent);
    }
  }
  let removed = 0;
  for (const rel of [...candidates].sort((a, b) => b.split('/').length - a.split('/').length)) {
    const abs = path.join(dir, rel);
    if (!isBelow(abs, dir)) continue;
    const info = await lstat(abs).catch(() => undefined);
    if (!info?.isDirectory()) continue;
    if (await rmdir(abs).then(() => true, () => false)) removed++;
  }
  return removed;
}

function isBelow(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}
