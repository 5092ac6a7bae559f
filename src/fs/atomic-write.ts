import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write a file so that readers see either the old or the new content, never a torn one, and
 * so that a secret is never readable by others, not even for a moment: the temporary file is
 * created with the final mode (O_EXCL, so no existing file or link is followed), synced, and
 * renamed over the target; then the directory entry is synced.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data, 'utf8');
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncPath(dir);
}

/** Create a private directory (0700) and its missing parents; an existing one is left as it is. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/**
 * fsync a file's content, or a directory's entries, to the disk. Some file systems refuse to
 * fsync a directory; what was renamed or linked there is still atomic, just not yet durable.
 */
export async function syncPath(file: string): Promise<void> {
  let handle;
  try {
    handle = await open(file, 'r');
    await handle.sync();
  } catch {
    // See above: best effort where the file system does not support it.
  } finally {
    await handle?.close();
  }
}

/** fsync many paths, a few at a time (one at a time costs a disk round trip each). */
export async function syncPaths(files: Iterable<string>, parallel = 16): Promise<void> {
  const queue = [...files];
  const worker = async () => {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) await syncPath(next);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, worker));
}

/** Keep a file that is about to be replaced because it is invalid, as `<file>.invalid-<time>`. */
export async function keepInvalidCopy(file: string): Promise<string> {
  const keep = `${file}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await copyFile(file, keep);
  return keep;
}
