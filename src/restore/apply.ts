import { randomBytes } from 'node:crypto';
import { chmod, cp, link, lstat, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { syncPaths } from '../fs/atomic-write.js';
import type { MappingPlan } from '../engine/plan.js';
import { sumStats, withStats, type RestoreResult, type TransferResult } from '../engine/result.js';
import { runMapping, type MappingHooks } from '../engine/run-mapping.js';
import { LINK_SUFFIX, STAGING_NAME, STAGING_PREFIX } from '../rclone/args.js';
import type { Rclone } from '../rclone/runner.js';
import type { InspectedTarget } from './inspect.js';

/** Moves local files out of the way, recoverably: to the OS trash, or into --keep-dir. */
export type MoveAside = (files: string[]) => Promise<void>;

export interface RestoreMode {
  moveAside: MoveAside;
  /** --keep-dir: where moved files are (reported only when something was moved there). */
  keptIn?: string | undefined;
  linksMode: boolean;
  /** The restore's rclone argv, given the staging directory. */
  argsFor: (stagingDir: string) => string[];
  /**
   * Instead of argsFor: several rclone passes into the staging directory (a past run's files
   * come from the mirror and from several runs' folders), and what to clean up after them.
   */
  passesFor?: (stagingDir: string) => Promise<{ passes: string[][]; cleanup: () => Promise<void> }>;
  /** After the passes: put what they fetched where it belongs in the staging directory (append-only's objects). */
  arrange?: (stagingDir: string) => Promise<string[]>;
  /** Why the staged files must not be placed (they are not what was asked for); empty when fine. */
  verifyStaged?: (stagingDir: string) => Promise<string[]>;
}

/**
 * Restore one mapping without ever leaving a partly written file under a real name:
 * 1. leftovers of an interrupted restore (staging directories) are removed: they only ever
 *    held copies of remote files;
 * 2. every local file the plan replaces or deletes is moved aside (trash or --keep-dir), and
 *    rclone copies what differs into a staging directory inside the mapping (same file system):
 *    a download moves aside first (its copy skips what is identical here), a restore of a past
 *    run fetches its listed files and checks them against the run's record first, so one that
 *    fails or is stopped before leaves the local files as they were;
 * 3. each complete file is moved to its real name with link(2), which never replaces a file:
 *    one that appeared meanwhile is moved aside first.
 * An interruption at any step leaves real names either as they were, moved aside, or complete.
 */
export async function restoreMapping(
  rclone: Rclone,
  target: InspectedTarget,
  plan: MappingPlan,
  mode: RestoreMode,
  hooks: MappingHooks,
): Promise<RestoreResult> {
  const started = Date.now();
  const base = { kind: 'restore' as const, name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, errors: [] as string[] };
  if (plan.refusal) return { ...base, status: 'refused', reason: plan.refusal, copied: 0, deleted: 0, trashed: 0, durationMs: 0 };
  await mkdir(plan.localDir, { recursive: true });
  await removeStaging(plan.localDir);

  const changes = target.changes ?? { restore: [], replace: [], remove: [], touch: 0 };
  const present: string[] = [];
  const realDirs = new Set<string>();
  let throughLinkKept = 0;
  for (const file of changes.replace) {
    const local = await existingLocalPath(plan.localDir, file.path, mode.linksMode);
    if (local) present.push(local);
  }
  for (const file of changes.remove) {
    // A file reached through a linked folder lives elsewhere (links followed): a restore never
    // deletes outside the mapped directory; it stays where it is.
    if (!(await parentsAreDirectories(plan.localDir, file.path, realDirs))) {
      throughLinkKept++;
      continue;
    }
    const local = await existingLocalPath(plan.localDir, file.path, mode.linksMode);
    if (local) present.push(local);
  }
  const removed = changes.remove.length - throughLinkKept;
  let movedAside = 0;
  const kept = () => (movedAside > 0 && mode.keptIn ? { keptIn: mode.keptIn } : {});
  const staging = path.join(plan.localDir, `${STAGING_PREFIX}${randomBytes(4).toString('hex')}`);
  /** Move the local files the plan replaces or deletes aside; why not, when that failed (then nothing is restored). */
  const moveAside = async (): Promise<RestoreResult | undefined> => {
    try {
      if (present.length > 0) await mode.moveAside(present);
      movedAside = present.length;
      return undefined;
    } catch (error) {
      const stillThere = (await Promise.all(present.map((f) => lstat(f).then(() => 1, () => 0)))).reduce<number>((a, b) => a + b, 0);
      movedAside = present.length - stillThere;
      await rm(staging, { recursive: true, force: true });
      return {
        ...base,
        ...kept(),
        status: 'failed',
        reason: `could not move local files aside (${(error as Error).message}); ${movedAside} of ${present.length} were, nothing was restored`,
        copied: 0,
        deleted: 0,
        trashed: movedAside,
        durationMs: Date.now() - started,
      };
    }
  };
  // A download skips what is already identical here (--compare-dest): the files it replaces go
  // aside first, or a same-size one on storage that keeps no times would count as identical. A
  // restore of a past run fetches exactly its listed files: they are fetched and checked first.
  const fetchFirst = mode.passesFor !== undefined;
  if (!fetchFirst) {
    const failed = await moveAside();
    if (failed) return failed;
  }
  // The marker tells poof's own staging directory from anything a user may have named alike.
  await mkdir(staging);
  await writeFile(path.join(staging, STAGING_MARKER), '');
  const copied = mode.passesFor ? await runPasses(rclone, plan, hooks, await mode.passesFor(staging)) : await runMapping(rclone, { ...plan, args: mode.argsFor(staging) }, hooks);
  if (copied.status !== 'ok') {
    // Partial files stay in the staging directory, never under a real name; the next restore removes it.
    return { ...copied, ...base, ...kept(), errors: copied.errors, copied: 0, deleted: fetchFirst ? 0 : removed, trashed: movedAside, durationMs: Date.now() - started };
  }
  const arranged = mode.arrange ? await mode.arrange(staging) : [];
  const wrong = arranged.length > 0 ? arranged : mode.verifyStaged ? await mode.verifyStaged(staging) : [];
  if (wrong.length > 0) {
    // Nothing of it is needed: what it fetched is not what was asked for.
    await rm(staging, { recursive: true, force: true });
    return {
      ...copied,
      ...base,
      ...kept(),
      status: 'failed',
      reason: `what the remote holds is not what the run recorded, so nothing was restored: ${wrong.slice(0, 3).join('; ')}${wrong.length > 3 ? `; and ${wrong.length - 3} more` : ''} (if a backup ran with "history": false since that run, or \`poof sync\` kept the mapping two-way since, what was replaced then is not in the runs' folders: give PATH arguments to restore the other files, or pick a later run)`,
      errors: wrong.slice(0, 20),
      copied: 0,
      deleted: fetchFirst ? 0 : removed,
      trashed: movedAside,
      durationMs: Date.now() - started,
    };
  }
  if (fetchFirst) {
    // Only now, with every file it brings back fetched and checked, does anything local move: a
    // restore of a past run that fails before here leaves the local files as they were.
    const failed = await moveAside();
    if (failed) return failed;
  }

  let placed: Awaited<ReturnType<typeof placeStaged>>;
  try {
    placed = await placeStaged(staging, plan.localDir, mode.moveAside, mode.linksMode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    // Staged files stay in the staging directory, never under a real name; the restore stays unfinished.
    return {
      ...copied,
      ...base,
      ...kept(),
      status: 'failed',
      reason: `${path.relative(plan.localDir, (error as NodeJS.ErrnoException & { dest?: string }).dest ?? plan.localDir)} is on another file system than ${plan.localDir} (a disk mounted inside the mapping): poof cannot move restored files there safely; restore with --to DIR and copy them over, or map the mounted directory on its own`,
      copied: 0,
      deleted: removed,
      trashed: movedAside,
      durationMs: Date.now() - started,
    };
  }
  await rm(staging, { recursive: true, force: true });
  movedAside += placed.movedAside;
  const stats = copied.stats ? { stats: { ...copied.stats, bytes: placed.bytes } } : {};
  const throughLinks = placed.throughLinks.map((rel) => `${rel}: not restored: a link in its path would have it written wherever the link points`);
  const named = placed.throughLinks.slice(0, 3).join(', ') + (placed.throughLinks.length > 3 ? `, and ${placed.throughLinks.length - 3} more` : '');
  return {
    ...copied,
    ...base,
    ...stats,
    ...kept(),
    ...(throughLinks.length > 0 ? { status: 'failed' as const, reason: `not restored, since a link in the path would have them written wherever it points (links mode): ${named}` } : {}),
    errors: [...copied.errors, ...throughLinks],
    copied: placed.files,
    deleted: removed,
    trashed: movedAside,
    durationMs: Date.now() - started,
  };
}

/** Run each pass in turn into the staging directory; the first that fails stops the restore. */
async function runPasses(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks, planned: { passes: string[][]; cleanup: () => Promise<void> }): Promise<TransferResult> {
  const done: TransferResult[] = [];
  try {
    for (const args of planned.passes) {
      const { changing: _changing, ...result } = await runMapping(rclone, { ...plan, args }, hooks);
      done.push(result);
      if (result.status !== 'ok') break;
    }
  } finally {
    await planned.cleanup();
  }
  const failed = done.find((r) => r.status !== 'ok');
  return {
    ...(failed ?? done.at(-1) ?? { name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, status: 'ok' as const }),
    ...withStats(sumStats(done.map((r) => r.stats))),
    copied: done.reduce((sum, r) => sum + r.copied, 0),
    deleted: 0,
    errors: done.flatMap((r) => r.errors),
    durationMs: done.reduce((sum, r) => sum + r.durationMs, 0),
  };
}

/** Inside each staging directory: proof that poof made it (its name alone is not). */
const STAGING_MARKER = '.poof-staging';

/**
 * Remove staging directories left by an interrupted restore of this mapping: only poof's own
 * (the name pattern and the marker beside it); they hold copies of remote files, nothing else.
 */
export async function removeStaging(localDir: string): Promise<void> {
  const entries = await readdir(localDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const dir = path.join(localDir, entry.name);
    if (!entry.isDirectory() || !STAGING_NAME.test(entry.name) || !(await exists(path.join(dir, STAGING_MARKER)))) continue;
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Move every staged entry to its real name. Directories are created; files and links are
 * hard-linked into place (link(2) fails rather than replace anything) and then unlinked from
 * the staging directory. A file that took the name meanwhile is kept if identical, else moved
 * aside first. File systems without hard links fall back to a rename after an existence check.
 * In links mode nothing is placed through a link in its path (it would land wherever the link
 * points). Setuid, setgid and sticky bits are cleared, as rclone does from 1.74.4: a remote copy
 * should never be able to plant a setuid program.
 */
async function placeStaged(
  staging: string,
  localDir: string,
  moveAside: MoveAside,
  linksMode: boolean,
): Promise<{ files: number; bytes: number; movedAside: number; throughLinks: string[] }> {
  let files = 0;
  let bytes = 0;
  let movedAside = 0;
  const throughLinks: string[] = [];
  const realDirs = new Set<string>();
  const entries = await walk(staging);
  // Durable before any real name points at them: after a power cut, a placed file is complete,
  // never an empty or short file under its real name with the restore recorded as finished.
  await syncPaths(entries.filter((e) => !e.isDirectory && e.rel !== STAGING_MARKER).map((e) => path.join(staging, e.rel)));
  const touchedDirs = new Set<string>();
  for (const { rel, isDirectory } of entries) {
    if (rel === STAGING_MARKER) continue;
    const from = path.join(staging, rel);
    const to = path.join(localDir, rel);
    if (linksMode && !(await parentsAreDirectories(localDir, rel, realDirs))) {
      throughLinks.push(rel);
      continue;
    }
    touchedDirs.add(path.dirname(to));
    if (isDirectory) {
      await mkdir(to, { recursive: true });
      continue;
    }
    const staged = await lstat(from);
    if (staged.isFile() && (staged.mode & 0o7000) !== 0) await chmod(from, staged.mode & 0o777);
    const size = staged.size;
    for (let attempt = 0; ; attempt++) {
      try {
        await link(from, to);
        await unlink(from);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EEXIST' && attempt < 2) {
          if (await sameContent(from, to)) {
            await rename(from, to);
            break;
          }
          await moveAside([to]);
          movedAside++;
          continue;
        }
        if ((code === 'EPERM' || code === 'ENOTSUP') && !(await exists(to))) {
          await rename(from, to);
          break;
        }
        throw error;
      }
    }
    files++;
    bytes += size;
  }
  // The new names themselves, before the restore is recorded as finished.
  await syncPaths(touchedDirs);
  return { files, bytes, movedAside, throughLinks };
}

/** Is every directory between localDir and rel a directory (or absent), never a link? */
async function parentsAreDirectories(localDir: string, rel: string, known: Set<string>): Promise<boolean> {
  const parts = rel.split(path.sep).slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join(path.sep);
    if (known.has(dir)) continue;
    const info = await lstat(path.join(localDir, dir)).catch(() => undefined);
    if (info && !info.isDirectory()) return false;
    if (info) known.add(dir);
  }
  return true;
}

/** Every entry below dir, parents before their contents; links are not followed. */
async function walk(dir: string, rel = ''): Promise<Array<{ rel: string; isDirectory: boolean }>> {
  const out: Array<{ rel: string; isDirectory: boolean }> = [];
  for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    out.push({ rel: child, isDirectory: entry.isDirectory() });
    if (entry.isDirectory()) out.push(...(await walk(dir, child)));
  }
  return out;
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstat(a), lstat(b)]);
  if (!sa.isFile() || !sb.isFile() || sa.size !== sb.size) return false;
  const [ca, cb] = await Promise.all([readFile(a), readFile(b)]);
  return ca.equals(cb);
}

const exists = (file: string) => lstat(file).then(() => true, () => false);

/** The local file behind a remote object name; in links mode "x.rclonelink" is the link "x". */
async function existingLocalPath(localDir: string, object: string, linksMode: boolean): Promise<string | undefined> {
  const direct = path.join(localDir, object);
  if (await exists(direct)) return direct;
  if (linksMode && object.endsWith(LINK_SUFFIX)) {
    const linkPath = direct.slice(0, -LINK_SUFFIX.length);
    if (await lstat(linkPath).then((s) => s.isSymbolicLink(), () => false)) return linkPath;
  }
  return undefined;
}

/**
 * --keep-dir: move files into keepRoot under their path inside localDir. A rename where the
 * two are on one file system, else a copy that keeps times and modes, then the original goes.
 */
export function keepInDir(localDir: string, keepRoot: string): MoveAside {
  return async (files) => {
    for (const file of files) {
      const wanted = path.join(keepRoot, path.relative(localDir, file));
      await mkdir(path.dirname(wanted), { recursive: true });
      // A file kept earlier in the same run (one replaced twice) is never replaced: number the newer.
      for (let n = 0; ; n++) {
        const dest = n === 0 ? wanted : `${wanted}.~${n}~`;
        if (await exists(dest)) continue;
        try {
          await link(file, dest);
          await unlink(file);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') continue;
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP') throw error;
          await cp(file, dest, { preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false, recursive: true });
          await rm(file, { recursive: true });
        }
        break;
      }
    }
  };
}
