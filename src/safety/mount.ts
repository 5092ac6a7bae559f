import { stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Is dir a mount point (another file system than its parent)? An unmounted disk leaves an
 * empty directory behind; a mounted one may be shared with other machines or users.
 */
export async function isMountPoint(dir: string): Promise<boolean> {
  try {
    const [self, parent] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
    return self.dev !== parent.dev || dir === path.dirname(dir);
  } catch {
    return false;
  }
}
