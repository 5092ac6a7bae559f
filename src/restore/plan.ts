import path from 'node:path';
import { refuseOverlap } from '../safety/sources.js';
import { formatBytes } from '../ui/format.js';
import type { PoofConfig } from '../config/schema.js';
import { normalizeDir } from '../fs/paths.js';
import { buildRestoreArgs } from '../rclone/args.js';
import type { DryRunAction } from '../rclone/log-parse.js';
import { mappingPath, transferSettings, type ResolvedRemote } from '../rclone/remote.js';
import { refuseOverMapped, refuseTarget, type ProtectedPlaces } from '../safety/targets.js';

/** Where one mapping is restored from and to. */
export interface RestoreTarget {
  name: string;
  localDir: string;
  remotePath: string;
  /** Why this mapping must not be restored; it is then reported as refused. */
  refusal?: string;
}

export interface RestoreSettings {
  config: PoofConfig;
  remote: ResolvedRemote;
  /** The storage can compare sizes only: plan as if every local file differed. */
  sizeOnly?: boolean;
}

export interface RestoreTargetsInput extends RestoreSettings {
  only?: string[] | undefined;
  /** --to DIR: restore each mapping into DIR/NAME instead of its own directory. */
  to?: string | undefined;
  places: ProtectedPlaces;
}

/** Pure: the mappings to restore and where to; dangerous targets are refused. */
export function planRestoreTargets(input: RestoreTargetsInput): RestoreTarget[] {
  const { config, remote } = input;
  return Object.entries(config.paths)
    .filter(([, name]) => !input.only || input.only.includes(name))
    .map(([rawDir, name]) => {
      const localDir = input.to ? path.posix.join(normalizeDir(input.to), name) : normalizeDir(rawDir);
      const remotePath = mappingPath(config, remote, name);
      const refusal =
        refuseTarget(localDir, input.places) ??
        (input.to ? refuseOverMapped(localDir, Object.keys(config.paths)) : undefined) ??
        refuseOverlap(localDir, remote, config, name);
      return { name, localDir, remotePath, ...(refusal ? { refusal } : {}) };
    });
}

/** Pure: the rclone argv restoring one target into stagingDir; without it, the planning dry run. */
export function restoreArgsFor(target: RestoreTarget, settings: RestoreSettings, stagingDir?: string): string[] {
  const { config, remote } = settings;
  return buildRestoreArgs({
    ...transferSettings(config, remote),
    remotePath: target.remotePath,
    localDir: target.localDir,
    stagingDir,
    ignoreTimes: Boolean(settings.sizeOnly),
  });
}

export interface PlannedFile {
  path: string;
  size: number;
}

/** What a restore changes locally, from rclone's own dry run. */
export interface RestoreChanges {
  /** Files only on the remote: created locally, nothing is lost. */
  restore: PlannedFile[];
  /** Local files rclone would overwrite: they go to the trash first. */
  replace: PlannedFile[];
  /** Local files not on the remote, which the mirror would delete: they go to the trash first. */
  remove: PlannedFile[];
  /** Identical files whose modification time is corrected. */
  touch: number;
}

export interface DryRunItem {
  action: DryRunAction;
  object: string;
  size?: number | undefined;
}

/**
 * Pure: sort rclone's dry-run actions into what is new and what replaces or deletes a local file.
 * A copy onto a path that exists locally replaces that file (whose local size is what is at stake).
 */
export function sortChanges(items: DryRunItem[], existingLocally: ReadonlyMap<string, number>): RestoreChanges {
  const changes: RestoreChanges = { restore: [], replace: [], remove: [], touch: 0 };
  for (const item of items) {
    const file = { path: item.object, size: item.size ?? 0 };
    const localSize = existingLocally.get(item.object);
    if (item.action === 'copy' && localSize !== undefined) changes.replace.push({ path: item.object, size: localSize });
    else if (item.action === 'copy') changes.restore.push(file);
    else if (item.action === 'delete') changes.remove.push(file);
    else if (item.action === 'touch') changes.touch++;
  }
  return changes;
}

/**
 * Pure: why the remote's names must not be restored, or undefined. Storage such as S3 accepts
 * any object name: a name with a ".." part would be written outside the mapping by rclone
 * before 1.75 (CVE-2026-71313); in links mode, a link "x" (x.rclonelink) beside files under
 * "x/" could have them written through the link, wherever it points, before 1.74.4
 * (CVE-2026-54572). A backup never makes either, so such a remote copy was altered: refused on
 * every rclone version.
 */
export function refuseRemoteNames(objects: Iterable<string>, linksMode: boolean): string | undefined {
  const links = new Set<string>();
  const dirs = new Set<string>();
  for (const object of objects) {
    const parts = object.split('/');
    if (object.startsWith('/') || parts.some((p) => p === '..' || p === '.' || p === '') || object.includes('\0')) {
      return `the remote copy holds a file named ${JSON.stringify(object)}, which would be written outside the directory; no backup makes such a name, so the remote copy was altered: nothing was restored`;
    }
    if (linksMode && object.endsWith('.rclonelink')) links.add(object.slice(0, -'.rclonelink'.length));
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const both = [...links].find((link) => dirs.has(link));
  return both === undefined
    ? undefined
    : `the remote copy holds both a link ${JSON.stringify(both)} and files inside a directory of that name, which would be written through the link; no backup makes both, so the remote copy was altered: nothing was restored`;
}

const total = (files: PlannedFile[]) => files.reduce((sum, f) => sum + f.size, 0);
const count = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Pure: the lines that show one mapping's restore plan, listing at most `limit` endangered files. */
export function formatRestorePlan(
  target: RestoreTarget & { remoteFiles?: number; remoteBytes?: number; changes?: RestoreChanges },
  limit: number,
): string[] {
  const head = `${target.name}: ${target.localDir} <- ${target.remotePath}`;
  if (target.refusal) return [`${head}: REFUSED: ${target.refusal}`];
  const lines = [`${head} (${count(target.remoteFiles ?? 0, 'file')}, ${formatBytes(target.remoteBytes ?? 0)} on the remote)`];
  const changes = target.changes;
  if (!changes) return lines;
  lines.push(
    `  ${count(changes.restore.length, 'new file')} (${formatBytes(total(changes.restore))}) to restore; ` +
      `${count(changes.replace.length, 'local file')} to replace; ${count(changes.remove.length, 'local file')} to delete` +
      (changes.touch > 0 ? `; ${count(changes.touch, 'modification time')} to correct` : ''),
  );
  const endangered = [
    ...changes.replace.map((f) => `  replace  ${f.path} (${formatBytes(f.size)})`),
    ...changes.remove.map((f) => `  delete   ${f.path} (${formatBytes(f.size)})`),
  ];
  lines.push(...endangered.slice(0, limit));
  if (endangered.length > limit) lines.push(`  ... and ${endangered.length - limit} more (\`poof download --dry-run --json\` lists every one)`);
  return lines;
}

/** Pure: how many local files a set of plans would replace or delete. */
export function countEndangered(changes: Array<RestoreChanges | undefined>): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const c of changes) {
    if (!c) continue;
    files += c.replace.length + c.remove.length;
    bytes += total(c.replace) + total(c.remove);
  }
  return { files, bytes };
}
