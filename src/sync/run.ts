import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SyncResult } from '../engine/result.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { probePath, type PathKind } from '../fs/probe.js';
import { baseFlags, STAGING_NAME, STAGING_PREFIX } from '../rclone/args.js';
import { refuseUnfinishedRestore } from '../safety/sources.js';
import type { Capabilities } from '../rclone/capabilities.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import { bisyncMessage, buildBisyncArgs, judgeBisync, listedFiles, plannedReplacements, renderSyncFilters, SYNC_CHECK_FILE } from './bisync.js';

export interface SyncPlan {
  name: string;
  localDir: string;
  remotePath: string;
}

export interface SyncSettings {
  configFile: string;
  stateDir: string;
  excludes: string[] | undefined;
  maxDeletePercent: number;
  capabilities: Pick<Capabilities, 'bisyncSafetyFlags'>;
  bwlimit?: string | undefined;
  /** Local directories whose last restore did not finish: they may hold part of the remote copy. */
  unfinishedRestores: ReadonlySet<string>;
  /** The remote copy of a mapping on this machine's disk (a local-directory cloud), to look for links there too. */
  remoteOnDisk?: ((name: string) => string | undefined) | undefined;
  /** rclone 1.66+: where each side keeps what a sync replaces or deletes, for a mapping. */
  keepFor?: ((name: string) => { local: string; remote: string }) | undefined;
  /** A run id (UTC, as history's): names the remote's copy of a file kept beside the local one at a --resync. */
  runId: string;
}

export interface SyncHooks {
  log: (line: string) => void;
  cancelSignal: AbortSignal;
  dryRun: boolean;
  resync: boolean;
}

/** Where poof keeps a two-way mapping's bisync state (listings, filters): its own per mapping. */
export function syncDir(stateDir: string, name: string): string {
  return path.join(stateDir, 'sync', name);
}

/** The marker that the mapping was joined once with --resync: without it, a sync is refused. */
function joinedMarker(stateDir: string, name: string): string {
  return path.join(syncDir(stateDir, name), 'joined.json');
}

async function exists(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    () => false,
  );
}

/**
 * One two-way mapping: `rclone bisync` between the local directory (Path1) and its remote copy.
 * A mapping never joined before is refused until `--resync`; the --resync itself first finds the
 * files that differ on the two sides, where rclone would let this machine's copy win, and keeps
 * the remote's copy beside it (`NAME.poof-remote-<run id>`), so both sides end up with both.
 */
export async function syncMapping(rclone: Rclone, plan: SyncPlan, settings: SyncSettings, hooks: SyncHooks): Promise<SyncResult> {
  const started = Date.now();
  const base = { kind: 'sync' as const, name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, errors: [] as string[], copied: 0, deleted: 0, toRemote: 0, toLocal: 0, conflicts: 0 };
  const done = (extra: Partial<SyncResult>): SyncResult => ({ ...base, status: 'ok', durationMs: Date.now() - started, ...extra });
  const fail = (reason: string): SyncResult => done({ status: 'failed', reason });
  const workdir = syncDir(settings.stateDir, plan.name);
  const joined = await exists(joinedMarker(settings.stateDir, plan.name));
  // A sync that was killed (Ctrl-C, SIGTERM, a crash) while rclone before 1.63 wrote a file in
  // place leaves it cut short under its real name, and the next bisync would carry the cut copy
  // over the whole one; 1.66+ may have lost its listings instead. So the next sync joins both
  // sides again the careful way, on every version: every file that differs is kept twice.
  const running = path.join(workdir, 'running.json');
  const rejoin = joined && !hooks.resync && (await exists(running));
  const resync = hooks.resync || rejoin;
  const refused = (reason: string): SyncResult => done({ status: 'refused', reason });
  const local = await stat(plan.localDir).catch(() => undefined);
  if (!local?.isDirectory()) return refused(`${plan.localDir} is not there (a disk not mounted?): nothing was synced either way`);
  const unfinished = refuseUnfinishedRestore(plan.localDir, plan.name, settings.unfinishedRestores, false);
  if (unfinished) return refused(unfinished);
  if (!joined && !hooks.resync) {
    return refused(`${plan.name} has never been synced two-way: run \`poof sync --only ${plan.name} --resync\` once. It joins both sides: files on one side only are copied to the other, and a file that differs keeps both copies (the remote's as NAME.poof-remote-<time>)`);
  }
  const found = await scanLocal(plan.localDir, hooks.cancelSignal);
  if (found.links.length > 0) {
    return refused(`${plan.name} holds symbolic links (${shown(found.links)}): rclone bisync would write what comes from the other side through them, outside the mapping; remove them, or take ${plan.name} out of "sync"`);
  }
  const onDisk = settings.remoteOnDisk?.(plan.name);
  const remoteLinks = onDisk ? (await scanLocal(onDisk, hooks.cancelSignal)).links : [];
  if (remoteLinks.length > 0) {
    return refused(`the remote copy of ${plan.name} holds symbolic links (${shown(remoteLinks)}): rclone bisync would write what comes from here through them, outside it; remove them there, or take ${plan.name} out of "sync"`);
  }
  // rclone 1.60 names conflict copies FILE..path1 and FILE..path2 and replaces them at the next conflict on FILE.
  if (!settings.capabilities.bisyncSafetyFlags && found.conflicts.length > 0) {
    return refused(`conflict copies from an earlier sync are still here (${shown(found.conflicts)}): rclone before 1.66 would replace them at the next conflict on the same file; keep the copy you want under the file's own name, delete the others, then sync again`);
  }
  const changedType = await typeChanges(workdir, plan.localDir, onDisk);
  if (changedType.length > 0) {
    return refused(`${shown(changedType)} ${changedType.length === 1 ? 'was a file at the last sync and is a folder now, or the reverse' : 'were files at the last sync and are folders now, or the reverse'}: rclone bisync cannot carry that over and would stop for good, also after --resync; give the new one another name, sync, then rename it`);
  }
  await mkdir(workdir, { recursive: true, mode: 0o700 });
  // poof's own lock is held, but an rclone bisync started by a poof that was killed (SIGKILL) may
  // still run: its lock file names it. Only a lock whose process is gone is cleared.
  for (const entry of await readdir(workdir)) {
    if (!entry.endsWith('.lck')) continue;
    const pid = lockPid(await readFile(path.join(workdir, entry), 'utf8').catch(() => ''));
    if (pid !== undefined && alive(pid)) return fail(`an rclone bisync of ${plan.name} is still running (pid ${pid}), left by a poof that was killed; wait for it to end (or stop it: kill ${pid}), then sync again`);
    await rm(path.join(workdir, entry), { force: true });
  }
  const filtersFile = path.join(workdir, 'filters.txt');
  const filters = await syncFilters(rclone, settings, workdir);
  if ((await readFile(filtersFile, 'utf8').catch(() => undefined)) !== filters) {
    if (joined && !resync) return fail(`the excludes of ${plan.name} changed since its last sync: run \`poof sync --only ${plan.name} --resync\` (bisync must list both sides again)`);
    if (!hooks.dryRun) await writeFileAtomic(filtersFile, filters, 0o600);
  }
  const run = async (args: string[]) => {
    const messages: string[] = [];
    const result = await rclone.run(args, {
      cancelSignal: hooks.cancelSignal,
      onStderrLine: (line) => {
        hooks.log(line);
        messages.push(bisyncMessage(line));
      },
    });
    return { ...result, messages };
  };

  let keptBoth: string[] | undefined;
  if (resync) {
    const prepared = await prepareResync(rclone, plan, settings, hooks);
    if (typeof prepared === 'string') return fail(prepared);
    keptBoth = prepared;
    if (hooks.dryRun) return done({ keptBoth, joined: true, ...(rejoin ? { rejoined: true } : {}) });
  }
  const args = buildBisyncArgs({ configFile: settings.configFile, local: plan.localDir, remote: plan.remotePath, workdir, filtersFile, maxDeletePercent: settings.maxDeletePercent, capabilities: settings.capabilities, resync, dryRun: hooks.dryRun, bwlimit: settings.bwlimit, keep: settings.keepFor?.(plan.name) });
  hooks.log(`# ${new Date().toISOString()} ${plan.name}: rclone ${args.join(' ')}`);
  const keep = settings.keepFor?.(plan.name);
  if (!settings.capabilities.bisyncSafetyFlags && keep && !resync && !hooks.dryRun) {
    // rclone before 1.66 has no backup dirs for bisync: copy first what the run will replace.
    const kept = await keepBeforehand(rclone, plan, settings, [...args, '--dry-run'], keep, run);
    if (kept) return done({ status: 'failed', ...kept });
  }
  if (!hooks.dryRun) await writeFileAtomic(running, `${JSON.stringify({ pid: process.pid, started: new Date().toISOString() })}\n`, 0o600);
  const result = await run(args);
  if (hooks.cancelSignal.aborted || result.signal !== undefined) return fail('interrupted: rclone bisync was stopped; the next `poof sync` joins both sides again, keeping both copies of any file that differs (files deleted on one side since the last complete sync come back)');
  // rclone ended by itself (a failed copy is removed by rclone): nothing is cut short.
  await rm(running, { force: true });
  const outcome = judgeBisync(result.exitCode, result.messages, plan.name, settings.maxDeletePercent);
  if (outcome.status !== 'ok') return done({ status: 'failed', ...(outcome.reason ? { reason: outcome.reason } : {}), rcloneExit: result.exitCode });
  if (resync && !hooks.dryRun) await writeFileAtomic(joinedMarker(settings.stateDir, plan.name), `${JSON.stringify({ joined: new Date().toISOString(), local: plan.localDir, remote: plan.remotePath })}\n`, 0o600);
  return done({
    toRemote: outcome.toRemote,
    toLocal: outcome.toLocal,
    conflicts: outcome.conflicts,
    copied: outcome.toRemote + outcome.toLocal,
    deleted: outcome.deleted,
    rcloneExit: result.exitCode,
    ...(keptBoth ? { keptBoth } : {}),
    ...(rejoin ? { rejoined: true } : {}),
    ...(resync ? { joined: true } : {}),
  });
}

/**
 * rclone before 1.66: a dry run of the same bisync names what the real one will replace or delete
 * on each side, and those copies are copied first into the run's keep folder on their own side.
 * Returns why the sync must not go on (the dry run refused, or a copy failed), with nothing
 * changed; undefined when it may. What changes between the two runs is not covered.
 */
async function keepBeforehand(
  rclone: Rclone,
  plan: SyncPlan,
  settings: SyncSettings,
  dryRunArgs: string[],
  keep: { local: string; remote: string },
  run: (args: string[]) => Promise<{ exitCode: number; messages: string[] }>,
): Promise<{ reason: string; rcloneExit?: number } | undefined> {
  const preview = await run(dryRunArgs);
  const judged = judgeBisync(preview.exitCode, preview.messages, plan.name, settings.maxDeletePercent);
  if (judged.status !== 'ok') return { reason: judged.reason ?? `rclone bisync --dry-run exited ${preview.exitCode}`, rcloneExit: preview.exitCode };
  const { remoteCopies, localCopies, unreadable } = plannedReplacements(preview.messages);
  if (unreadable.length > 0) {
    return { reason: `rclone before 1.66 names ${shown(unreadable)} in a way poof cannot read back exactly, so what this sync would replace there cannot be kept first; nothing was changed: rename those files, or use rclone 1.66 or later` };
  }
  const flags = transferFlags(settings);
  const scratch = path.join(syncDir(settings.stateDir, plan.name), `keep-${randomBytes(4).toString('hex')}`);
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    for (const [files, from, into] of [[remoteCopies, plan.remotePath, keep.remote], [localCopies, plan.localDir, keep.local]] as const) {
      if (files.length === 0) continue;
      const list = path.join(scratch, 'files.txt');
      await writeFile(list, `${files.join('\n')}\n`);
      // Without --no-traverse: a listed file the other side no longer has is simply not there to keep.
      const copied = await rclone.run(['copy', from, into, '--files-from-raw', list, ...flags]);
      if (copied.exitCode !== 0) return { reason: `could not keep the ${files.length} files this sync would replace or delete (rclone copy exited ${copied.exitCode}: ${lastErrorLine(copied.stderr)}), so nothing was changed`, rcloneExit: copied.exitCode };
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return undefined;
}

/**
 * Before a --resync: the check file on both sides, and the files that differ on the two sides
 * (compared by content: `rclone check --download`, since storage without a common hash would
 * compare sizes only) kept twice: the remote's copy is fetched into a staging folder inside the
 * mapping and placed beside the local one under a new name, which the resync then copies up.
 * Returns the files kept both ways, or why it could not be done (nothing was changed then).
 */
async function prepareResync(rclone: Rclone, plan: SyncPlan, settings: SyncSettings, hooks: SyncHooks): Promise<string[] | string> {
  const flags = transferFlags(settings);
  const scratch = path.join(syncDir(settings.stateDir, plan.name), `check-${randomBytes(4).toString('hex')}`);
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    const differ = path.join(scratch, 'differ.txt');
    const errors = path.join(scratch, 'errors.txt');
    const checkFilters = path.join(scratch, 'filters.txt');
    await writeFile(checkFilters, renderSyncFilters(settings.excludes));
    const checked = await rclone.run(['check', plan.localDir, plan.remotePath, '--download', '--differ', differ, '--error', errors, ...flags, '--filter-from', checkFilters], { cancelSignal: hooks.cancelSignal });
    if (hooks.cancelSignal.aborted) return 'interrupted before anything was changed';
    const listed = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((line) => line !== '');
    const failedChecks = await listed(errors);
    // Exit 3: the remote copy does not exist yet (a first sync onto an empty remote).
    if (failedChecks.length > 0 || (checked.exitCode !== 0 && checked.exitCode !== 1 && checked.exitCode !== 3)) {
      return `could not compare the two sides of ${plan.name} before joining them (rclone check exited ${checked.exitCode}: ${failedChecks[0] ?? lastErrorLine(checked.stderr)}); nothing was changed`;
    }
    const differing = (await listed(differ)).filter((file) => file !== SYNC_CHECK_FILE);
    if (hooks.dryRun) return differing;
    if (differing.length > 0) {
      const staging = path.join(plan.localDir, `${STAGING_PREFIX}${randomBytes(4).toString('hex')}`);
      const list = path.join(scratch, 'fetch.txt');
      await writeFile(list, `${differing.join('\n')}\n`);
      try {
        const fetched = await rclone.run(['copy', plan.remotePath, staging, '--files-from-raw', list, '--no-traverse', ...flags], { cancelSignal: hooks.cancelSignal });
        if (fetched.exitCode !== 0) return `could not fetch the remote's copies of the ${differing.length} files that differ (rclone exited ${fetched.exitCode}: ${lastErrorLine(fetched.stderr)}); nothing was changed`;
        for (const file of differing) {
          const target = `${path.join(plan.localDir, file)}.poof-remote-${settings.runId}`;
          if (await exists(target)) return `${target} exists already; nothing more was changed`;
          await rename(path.join(staging, file), target);
        }
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
      // The resync compares by size and time only: a file whose content differs with the same
      // size and time (a tool that keeps the date, a copy made with its times) would stay as it
      // is on the remote, and this machine's content would be nowhere else. Sent up first, by
      // content; the remote's copy is kept beside it already (and goes up with the resync).
      // Cut short here (rclone before 1.63 writes in place), the next sync must join again, carefully.
      await writeFileAtomic(path.join(syncDir(settings.stateDir, plan.name), 'running.json'), `${JSON.stringify({ pid: process.pid, started: new Date().toISOString() })}\n`, 0o600);
      const keep = settings.keepFor?.(plan.name);
      const sent = await rclone.run(['copy', plan.localDir, plan.remotePath, '--files-from-raw', list, '--no-traverse', '--ignore-times', ...(keep ? ['--backup-dir', keep.remote] : []), ...flags], { cancelSignal: hooks.cancelSignal });
      if (hooks.cancelSignal.aborted) return 'interrupted while sending the files that differ; the remote\'s copies are kept beside them here, and the next `poof sync` joins both sides again';
      if (sent.exitCode !== 0) return `could not send this machine's copies of the ${differing.length} files that differ (rclone exited ${sent.exitCode}: ${lastErrorLine(sent.stderr)}); the remote's copies are kept beside them here`;
    }
    // bisync needs both sides to exist: the remote copy of a mapping never backed up does not yet.
    const made = await rclone.run(['mkdir', plan.remotePath, ...flags], { cancelSignal: hooks.cancelSignal });
    if (made.exitCode !== 0) return `could not make ${plan.remotePath} (rclone exited ${made.exitCode}: ${lastErrorLine(made.stderr)})`;
    // The check file on both sides: rclone 1.66+ checks access during a --resync too.
    const check = path.join(plan.localDir, SYNC_CHECK_FILE);
    if (!(await exists(check))) await writeFile(check, 'poof: this file marks both sides of a two-way mapping; keep it\n');
    const placed = await rclone.run(['copyto', check, `${plan.remotePath}/${SYNC_CHECK_FILE}`, '--ignore-existing', ...flags], { cancelSignal: hooks.cancelSignal });
    if (placed.exitCode !== 0) return `could not place ${SYNC_CHECK_FILE} on the remote (rclone exited ${placed.exitCode}: ${lastErrorLine(placed.stderr)})`;
    return differing;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The filters file of a two-way mapping: the user's excludes and restore staging. Where an
 * exclude (".*", say) would leave out the check file, bisync's --check-access could never find
 * it and no sync would run again: a rule that keeps it comes first, only then, so a filters
 * file that worked is never changed (bisync would ask for a --resync). rclone itself decides.
 */
async function syncFilters(rclone: Rclone, settings: SyncSettings, workdir: string): Promise<string> {
  const filters = renderSyncFilters(settings.excludes);
  if ((settings.excludes ?? []).length === 0) return filters;
  const probe = path.join(workdir, `probe-${randomBytes(4).toString('hex')}`);
  await mkdir(probe, { recursive: true, mode: 0o700 });
  try {
    await writeFile(path.join(probe, SYNC_CHECK_FILE), '');
    await writeFile(path.join(probe, 'filters.txt'), filters);
    const listed = await rclone.run(['lsf', path.join(probe), '--files-only', '--filter-from', path.join(probe, 'filters.txt'), ...baseFlags(settings.configFile)]);
    // No answer: the filters stay as the excludes say (a wrong guess would ask for a --resync).
    if (listed.exitCode !== 0) return filters;
    return listed.stdout.split('\n').includes(SYNC_CHECK_FILE) ? filters : `+ /${SYNC_CHECK_FILE}\n${filters}`;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
}

/**
 * Pure: flags of the copies and checks around a bisync. They move file contents, so they keep to
 * poof.conf's bandwidth limit; and a progress line each second means rclone dies of SIGPIPE
 * within a second of a poof killed alone, instead of writing on (a reviewer saw an orphaned copy
 * still writing when the next sync started).
 */
function transferFlags(settings: SyncSettings): string[] {
  return [...baseFlags(settings.configFile), '--contimeout', '30s', '--timeout', '2m', ...(settings.bwlimit !== undefined ? ['--bwlimit', settings.bwlimit] : []), '--stats', '1s', '--stats-log-level', 'NOTICE'];
}

/** Pure: the first few names, for one line. */
function shown(names: string[]): string {
  return `${names.slice(0, 3).join(', ')}${names.length > 3 ? `, and ${names.length - 3} more` : ''}`;
}

/** Pure: the process an rclone bisync lock file names (1.60: the pid; 1.66+: JSON with "PID"). */
export function lockPid(text: string): number | undefined {
  const trimmed = text.trim();
  let value: unknown = trimmed;
  if (trimmed.startsWith('{')) {
    try {
      value = (JSON.parse(trimmed) as { PID?: unknown }).PID;
    } catch {
      return undefined;
    }
  }
  const pid = Number(value);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Is the process still running? A zombie (ended, not yet reaped by an init that never reaps) is not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * The symbolic links of a two-way mapping (bisync would write through them), and conflict copies
 * rclone 1.60 left (`FILE..path1`, `FILE..path2`), by path; restore staging is left out.
 */
async function scanLocal(root: string, cancelSignal: AbortSignal): Promise<{ links: string[]; conflicts: string[] }> {
  const links: string[] = [];
  const conflicts: string[] = [];
  const pending: string[] = [''];
  let seen = 0;
  while (pending.length > 0 && !cancelSignal.aborted) {
    const rel = pending.pop()!;
    const entries = await readdir(rel === '' ? root : path.join(root, rel), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (rel === '' && STAGING_NAME.test(entry.name)) continue;
      const name = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymbolicLink()) links.push(name);
      else if (entry.isDirectory()) pending.push(name);
      else if (/\.\.path[12]$/.test(entry.name)) conflicts.push(name);
      if (++seen % 2000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return { links: links.sort(), conflicts: conflicts.sort() };
}

/**
 * The files of the last sync's listings that are folders now, or sit below what is a file now,
 * here (and on the remote copy when it is on this machine's disk): a change of type bisync cannot
 * sync. Paths as in the listings, relative to the mapping.
 */
async function typeChanges(workdir: string, localDir: string, remoteOnDisk: string | undefined): Promise<string[]> {
  const entries = await readdir(workdir).catch(() => [] as string[]);
  const changed = new Set<string>();
  for (const [suffix, root] of [['.path1.lst', localDir], ['.path2.lst', remoteOnDisk]] as const) {
    if (root === undefined) continue;
    for (const entry of entries.filter((name) => name.endsWith(suffix))) {
      const files = listedFiles(await readFile(path.join(workdir, entry), 'utf8').catch(() => ''));
      // Links were refused before this: following them or not sees the same.
      const kinds = new Map<string, PathKind>();
      const kindOf = async (rel: string) => {
        const kind = kinds.get(rel) ?? (await probePath(path.join(root, rel)));
        kinds.set(rel, kind);
        return kind;
      };
      for (const file of files) {
        if ((await kindOf(file)) === 'directory') changed.add(file);
        // A folder that became a file: the nearest ancestor that is not a folder now.
        for (let parent = path.posix.dirname(file); parent !== '.'; parent = path.posix.dirname(parent)) {
          const kind = await kindOf(parent);
          if (kind === 'directory') break;
          if (kind !== 'missing') changed.add(parent);
        }
      }
    }
  }
  return [...changed].sort();
}
