import { lstat, readFile, readlink, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import { readTextIfExists } from '../config/store.js';
import { shortHash } from '../config/paths.js';
import { RunFailedError } from '../errors.js';
import { entriesBelow } from '../fs/files-below.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { LINK_SUFFIX } from '../rclone/args.js';
import { storageIdentity, type ResolvedRemote } from '../rclone/remote.js';

/**
 * Earlier versions stored links kept as links on a local-directory "cloud" as real links
 * (rclone --links on both sides). This version reads that tree without --links (only the
 * laptop's side translates links: linksHereOnly), so such links would be invisible: a download
 * would delete the local links as if the remote had none, an old run could not be restored, and
 * rclone would write or sync through them (into what they point to, outside the backup). Once
 * per storage, with the lock held and before anything else reads it, every real link in poof's
 * tree there (mirrors and history) becomes what this version stores: a file `NAME.rclonelink`
 * holding where it points, with the link's time; then the link goes (a crash between the two
 * leaves both, and the next command finishes it). A note in the state dir records the tree done,
 * so it is walked once. Returns how many links were converted.
 */
export async function convertStoredLinks(stateDir: string, remote: ResolvedRemote, log: (line: string) => void): Promise<number> {
  if (!remote.localDir || remote.crypt) return 0;
  const dir = path.join(stateDir, 'stored-links');
  const note = path.join(dir, shortHash(storageIdentity(remote)));
  if ((await readTextIfExists(note))?.trim() === 'converted') return 0;
  const links = (await entriesBelow(remote.localDir)).filter((entry) => entry.kind === 'link').map((entry) => entry.rel).sort();
  for (const rel of links) {
    const link = path.join(remote.localDir, rel);
    const file = `${link}${LINK_SUFFIX}`;
    const target = await readlink(link);
    const info = await lstat(link);
    const there = await readFile(file, 'utf8').catch(() => undefined);
    if (there === undefined) {
      await writeFileAtomic(file, target, 0o600);
      await utimes(file, info.atime, info.mtime);
    } else if (there !== target) {
      throw new RunFailedError(`${link} is a link kept as a link by an earlier version of poof, and ${file} beside it holds another target`, 'remove the one that is out of date by hand, then run again');
    }
    await unlink(link);
    log(`# ${rel}: a link stored as a real link by an earlier version, now stored as ${path.basename(file)}`);
  }
  await ensurePrivateDir(dir);
  await writeFileAtomic(note, 'converted\n');
  return links.length;
}
