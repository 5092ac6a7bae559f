import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Write a file so that readers see either the old or the new content, never a torn one, and
 * so that a secret is never readable by others, not even for a moment: the temporary file is
 * created with the final mode (O_EXCL, so no existing file or link is followed), synced, and
 * renamed over the target; then the directory entry is synced.
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
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
  await syncDirectory(dir);
}

/** Create a private directory (0700) and its missing parents; an existing one is left as it is. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems refuse to fsync a directory; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}

/** Keep a file that is about to be replaced because it is invalid, as `<file>.invalid-<time>`. */
export async function keepInvalidCopy(file: string): Promise<string> {
  const keep = `${file}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await copyFile(file, keep);
  return keep;
}
