import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SymlinkMode } from '../config/schema.js';
import { LINK_SUFFIX } from '../rclone/args.js';
import type { FileState } from './plan.js';

const MAX_DEPTH = 256;

/**
 * Every file below dir as rclone sees it with poof's symlink setting, keyed by the relative path
 * rclone reports: "follow" looks through links (a link to a directory is descended, as -L does),
 * "links" names a link "x.rclonelink", "skip" leaves links out.
 */
export async function snapshotTree(dir: string, symlinks: SymlinkMode = 'follow'): Promise<Map<string, FileState>> {
  const out = new Map<string, FileState>();
  const seen = new Set<string>();
  const walk = async (rel: string, depth: number, viaLink: boolean): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const abs = path.join(dir, rel);
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      const childAbs = path.join(abs, entry.name);
      if (entry.isSymbolicLink()) {
        if (symlinks === 'skip') continue;
        if (symlinks === 'links') {
          const info = await lstat(childAbs).catch(() => undefined);
          if (info) out.set(`${childRel}${LINK_SUFFIX}`, { ...toState(info), linkName: childRel });
          continue;
        }
        const target = await stat(childAbs).catch(() => undefined);
        if (!target) continue;
        if (target.isDirectory()) {
          const key = `${target.dev}:${target.ino}`;
          if (!seen.has(key)) {
            seen.add(key);
            await walk(childRel, depth + 1, true);
          }
        } else if (target.isFile()) out.set(childRel, { ...toState(target), ...(viaLink ? { viaLink } : {}) });
      } else if (entry.isDirectory()) await walk(childRel, depth + 1, viaLink);
      else if (entry.isFile()) {
        const info = await lstat(childAbs).catch(() => undefined);
        if (info) out.set(childRel, { ...toState(info), ...(viaLink ? { viaLink } : {}) });
      }
    }
  };
  await walk('', 0, false);
  return out;
}

function toState(info: { size: number; mtimeMs: number; ctimeMs: number; ino: number }): FileState {
  return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
}
