import { md5OfFile } from '../fs/hash.js';
import { constants, existsSync } from 'node:fs';
import { isInside } from '../fs/paths.js';
import { chmod, copyFile, lstat, mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { dataRoot, objectPath } from '../vault/layout.js';
import { objectKeyOf } from '../vault/records.js';
import { vaultStateOf } from '../vault/versions.js';
import os from 'node:os';
import path from 'node:path';
import { buildListedRestoreArgs, buildLocalListArgs, LINK_SUFFIX } from '../rclone/args.js';
import { historyFolder } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { transferSettings } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import type { RunManifest } from '../versions/manifest.js';
import { stateAfter, type KeptVersions, type StoredFile } from '../versions/state.js';
import { pickRun, type When } from '../versions/when.js';
import type { InspectedTarget } from './inspect.js';
import type { PlannedFile, RestoreChanges, RestoreSettings, RestoreTarget } from './plan.js';

/** A restore of a past run: the run, and which stored files each rclone pass brings back. */
export interface AtTarget extends InspectedTarget {
  runId?: string;
  /** Source (the mirror or a run's folder) -> paths below it to copy (into a folder of the staging directory). */
  passes?: Array<{ source: string; files: string[]; into?: string }>;
  /** Append-only: each restored path and the object (`xx/<key>`, in the pass's folder) that holds it. */
  objects?: Array<{ path: string; object: string; mtime: number; mode?: number | undefined }>;
  /** What each file brought back must be, by the run's manifest. */
  expect?: Map<string, { size: number; mtime: number; md5?: string }>;
}

/** What the remote keeps for one mapping. */
export interface MappingVersions {
  manifests: RunManifest[];
  kept: KeptVersions;
}

/**
 * Plan a restore of one mapping as it was after the run `when` names: every file that run left
 * (within `scope`: paths or directories inside the mapping; all when empty), compared with
 * what is in the local directory now. Files missing locally are restored; files that differ are
 * replaced; local files the run did not have (added later) are removed. Replaced and removed
 * files go aside first, as for download. No rclone dry run: the run's manifest says it all.
 */
export async function inspectAt(rclone: Rclone, target: RestoreTarget, settings: RestoreSettings, versions: MappingVersions, when: When, scope: string[], cancelSignal: AbortSignal, appendOnly = false): Promise<AtTarget> {
  if (target.refusal) return target;
  const runs = versions.manifests.map((m) => ({ id: m.runId, complete: m.status === 'complete' }));
  const runId = pickRun(when, runs);
  if (!runId) {
    const first = runs.filter((r) => r.complete).map((r) => r.id).sort()[0];
    return { ...target, refusal: first ? `no complete run at or before that time (the oldest kept is ${first})` : 'no run kept yet (history starts with the next backup that changes something)' };
  }
  const manifest = versions.manifests.find((m) => m.runId === runId)!;
  if (!manifest.files) return { ...target, runId, refusal: `run ${runId} did not finish, so poof does not know every file it left; choose the run before it (poof history)` };
  // A link kept as a link is recorded as NAME.rclonelink: the PATH that names it is NAME.
  const inScope = (file: string) => scope.length === 0 || scope.some((s) => file === s || file.startsWith(`${s}/`) || (settings.remote.links && file === `${s}${LINK_SUFFIX}`));
  const wanted = (appendOnly ? vaultStateOf(manifest) : stateAfter(manifest, versions.kept)).filter((f) => inScope(f.path));
  if (scope.length > 0 && wanted.length === 0) return { ...target, runId, refusal: `run ${runId} had none of: ${scope.join(', ')}` };
  const local = await listLocal(rclone, target, settings, cancelSignal);
  if (typeof local === 'string') return { ...target, runId, refusal: local };
  // A record from before links kept as links were listed knows none: the local links stay as they are.
  if (settings.remote.links && !manifest.links) for (const file of [...local.keys()]) if (file.endsWith(LINK_SUFFIX)) local.delete(file);
  const changes: RestoreChanges = { restore: [], replace: [], remove: [], touch: 0 };
  const fetch: StoredFile[] = [];
  for (const file of wanted) {
    const here = local.get(file.path);
    if (here && here.size === file.size && here.mtime === file.mtime) continue;
    fetch.push(file);
    (here ? changes.replace : changes.restore).push(here ? { path: file.path, size: here.size } : { path: file.path, size: file.size });
  }
  const keep = new Set(wanted.map((f) => f.path));
  for (const [file, here] of local) if (inScope(file) && !keep.has(file)) changes.remove.push({ path: file, size: here.size } as PlannedFile);
  const expect = new Map(fetch.map((f) => [f.path, { size: f.size, mtime: f.mtime, ...(f.md5 ? { md5: f.md5 } : {}) }]));
  const common = { ...target, runId, remoteFiles: wanted.length, remoteBytes: wanted.reduce((sum, f) => sum + f.size, 0), changes, expect };
  if (appendOnly) {
    const objects = fetch.map((f) => ({ path: f.path, object: objectPath(objectKeyOf(f)!), mtime: f.mtime, mode: f.mode }));
    const into = objectsFolder(wanted.map((f) => f.path));
    return { ...common, passes: objects.length > 0 ? [{ source: dataRoot(settings.remote.root), files: [...new Set(objects.map((o) => o.object))].sort(), into }] : [], objects };
  }
  const bySource = new Map<string, string[]>();
  for (const file of fetch) {
    const source = file.from ? historyFolder(settings.remote.root, file.from, target.name) : target.remotePath;
    bySource.set(source, [...(bySource.get(source) ?? []), file.path]);
  }
  return { ...common, passes: [...bySource].map(([source, files]) => ({ source, files })) };
}

/** Pure: a folder of the staging directory for fetched objects that no restored path is in. */
function objectsFolder(paths: string[]): string {
  for (let n = 0; ; n++) {
    const name = `.poof-objects${n > 0 ? `-${n}` : ''}`;
    if (!paths.some((p) => p === name || p.startsWith(`${name}/`))) return name;
  }
}

/**
 * Append-only: put each fetched object under the path it restores, inside the staging directory,
 * with the recorded time and mode (setuid, setgid and sticky bits cleared), then remove the
 * objects' folder: what is left is the run's files, as a mirror's restore stages them.
 */
export async function arrangeObjects(target: AtTarget, stagingDir: string): Promise<string[]> {
  const into = target.passes?.[0]?.into;
  if (!into || !target.objects) return [];
  const needed = new Set(target.objects.map((f) => f.object));
  // Every object first: one the storage no longer holds stops the restore before anything moves.
  const missing = [...needed].filter((object) => !existsSync(path.join(stagingDir, into, object)));
  if (missing.length > 0) return target.objects.filter((f) => missing.includes(f.object)).map((f) => `${f.path}: its object ${f.object} is missing on the remote`);
  try {
    await placeObjects(target.objects, stagingDir, into);
  } catch (error) {
    // A record that cannot be a tree (records are checked when read): nothing is placed.
    return [`the run's record cannot be placed as files (${(error as Error).message})`];
  }
  await rm(path.join(stagingDir, into), { recursive: true, force: true });
  return [];
}

async function placeObjects(objects: NonNullable<AtTarget['objects']>, stagingDir: string, into: string): Promise<void> {
  const remaining = new Map<string, number>();
  for (const { object } of objects) remaining.set(object, (remaining.get(object) ?? 0) + 1);
  for (const file of objects) {
    const from = path.join(stagingDir, into, file.object);
    const to = path.join(stagingDir, file.path);
    // Never outside the staging directory, whatever a record says (records are checked when read too).
    if (!isInside(to, stagingDir)) throw new Error(`${file.path} is not a path inside the mapped directory`);
    await mkdir(path.dirname(to), { recursive: true });
    const left = remaining.get(file.object)! - 1;
    remaining.set(file.object, left);
    // One object can hold the content of several paths: copies for all but the last.
    if (left > 0) await copyFile(from, to, constants.COPYFILE_EXCL);
    else await rename(from, to);
    if (file.mode !== undefined) await chmod(to, file.mode & 0o777);
    // Half a millisecond on: seconds as a float land a hair below a whole millisecond otherwise.
    // Not before 1970: Node takes negative seconds as "now", a Date as it is.
    const time = file.mtime < 0 ? new Date(file.mtime) : (file.mtime + 0.5) / 1000;
    await utimes(to, time, time);
  }
}

/**
 * Before anything is placed: every staged file must be what the run's manifest says (its size,
 * and its time where the storage keeps times, to the second). A mismatch means the remote no
 * longer holds that run as it was (a damaged object, history that was off for a while): the
 * restore stops rather than bring back something else under the run's name.
 */
export async function verifyStaged(target: AtTarget, stagingDir: string, keepsTimes: boolean, links = false): Promise<string[]> {
  const problems: string[] = [];
  for (const [file, want] of target.expect ?? []) {
    // A link kept as a link comes back as the link itself (rclone --links): its size is its target's length.
    const link = links && file.endsWith(LINK_SUFFIX) ? await lstat(path.join(stagingDir, file.slice(0, -LINK_SUFFIX.length))).catch(() => undefined) : undefined;
    const got = link?.isSymbolicLink() ? link : await lstat(path.join(stagingDir, file)).catch(() => undefined);
    if (!got) problems.push(`${file}: not read back`);
    else if (got.size !== want.size) problems.push(`${file}: ${got.size} bytes, the run recorded ${want.size}`);
    else if (keepsTimes && Math.abs(got.mtimeMs - want.mtime) >= 1000) problems.push(`${file}: modified ${new Date(got.mtimeMs).toISOString()}, the run recorded ${new Date(want.mtime).toISOString()}`);
    else if (want.md5 && got.isFile() && (await md5OfFile(path.join(stagingDir, file))) !== want.md5) problems.push(`${file}: its content is not what the run recorded (md5 differs): the stored copy is damaged`);
  }
  return problems;
}

/** The local files as a backup sees them (the same links and excludes), by path: size and time. */
async function listLocal(rclone: Rclone, target: RestoreTarget, settings: RestoreSettings, cancelSignal: AbortSignal): Promise<Map<string, { size: number; mtime: number }> | string> {
  const listed = await rclone.run(buildLocalListArgs({ ...transferSettings(settings.config, settings.remote), source: target.localDir }), { timeoutMs: 30 * 60_000, cancelSignal });
  const out = new Map<string, { size: number; mtime: number }>();
  // A --to directory that does not exist yet holds nothing.
  if (listed.exitCode === 3) return out;
  if (listed.exitCode !== 0) return `could not list ${target.localDir}: ${lastErrorLine(listed.stderr)}`;
  for (const entry of JSON.parse(listed.stdout || '[]') as Array<{ Path: string; Size: number; ModTime: string }>) {
    if (entry.Path.startsWith('.poof-restore-')) continue;
    out.set(entry.Path, { size: entry.Size, mtime: Date.parse(entry.ModTime) });
  }
  return out;
}

/** The rclone passes of a planned restore of a past run, with their file lists written to a scratch dir. */
export async function passesFor(target: AtTarget, settings: RestoreSettings, stagingDir: string): Promise<{ passes: string[][]; cleanup: () => Promise<void> }> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-at-'));
  const passes: string[][] = [];
  let n = 0;
  for (const pass of target.passes ?? []) {
    const list = path.join(scratch, `pass-${n++}.list`);
    await writeFile(list, `${pass.files.join('\n')}\n`);
    passes.push(buildListedRestoreArgs(transferSettings(settings.config, settings.remote), pass.source, pass.into ? path.join(stagingDir, pass.into) : stagingDir, list));
  }
  return { passes, cleanup: () => rm(scratch, { recursive: true, force: true }) };
}
