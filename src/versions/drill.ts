import { randomInt } from 'node:crypto';
import { lstat, mkdtemp, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { md5OfFile, sha256AndMd5OfFile } from '../fs/hash.js';
import { buildListedRestoreArgs, LINK_SUFFIX } from '../rclone/args.js';
import { historyFolder } from '../rclone/history-args.js';
import { transferSettings, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import type { PoofConfig } from '../config/schema.js';
import type { RunManifest } from './manifest.js';
import { stateAfter, type KeptVersions, type StoredFile } from './state.js';

/** How much of a run a drill reads back. */
export type Sample = { kind: 'full' } | { kind: 'percent'; percent: number };

/** A restore drill's default: a few percent of the files, at least a few. */
export const DEFAULT_SAMPLE_PERCENT = 3;
export const MIN_SAMPLE_FILES = 5;

/** Pure: which files to read back: all, or a random sample (different files each time). */
export function pickSample(files: StoredFile[], sample: Sample, random: (n: number) => number = randomInt): StoredFile[] {
  if (sample.kind === 'full') return files;
  const count = Math.min(files.length, Math.max(MIN_SAMPLE_FILES, Math.ceil((files.length * sample.percent) / 100)));
  const pool = [...files];
  // Partial Fisher-Yates: the first `count` are a uniform random choice.
  for (let i = 0; i < count; i++) {
    const j = i + random(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count).sort((a, b) => (a.path < b.path ? -1 : 1));
}

/**
 * Where a run's files are read back from: every file of the run, the remote folder each is read
 * from, the name it has there (and so in the scratch copy), and where a missing one was expected.
 */
export interface DrillLayout {
  all: StoredFile[];
  sourceOf: (file: StoredFile) => string;
  readAs: (file: StoredFile) => string;
  expectedAt: (file: StoredFile) => string;
}

/** A mirror's run: each file in the mirror, or in the folder of the first later run that replaced it. */
export function mirrorLayout(manifest: RunManifest, kept: KeptVersions, remote: ResolvedRemote, target: { name: string; remotePath: string }): DrillLayout {
  return {
    all: stateAfter(manifest, kept),
    sourceOf: (file) => (file.from ? historyFolder(remote.root, file.from, target.name) : target.remotePath),
    readAs: (file) => file.path,
    expectedAt: (file) => `in ${file.from ? `the folder of run ${file.from}` : 'the mirror'}`,
  };
}

export interface DrillResult {
  name: string;
  runId: string;
  files: number;
  checked: number;
  /** Compared byte for byte with the local file, which is unchanged since the run. */
  againstLocal: number;
  problems: Array<{ path: string; problem: string }>;
}

/**
 * Read back files of one run from the remote, as a restore would (from the mirror and the runs'
 * folders), into a scratch directory, and compare each with the run's manifest (it must be
 * there, with the recorded size) and, where the local file still has the recorded size and
 * time, byte for byte with it. rclone checks hashes in transit where the storage has them.
 */
export async function drillRun(
  rclone: Rclone,
  config: PoofConfig,
  remote: ResolvedRemote,
  target: { name: string; localDir: string; remotePath: string },
  manifest: RunManifest,
  kept: KeptVersions,
  sample: Sample,
  cancelSignal?: AbortSignal,
  where: DrillLayout = mirrorLayout(manifest, kept, remote, target),
): Promise<DrillResult> {
  const { all, sourceOf, readAs, expectedAt } = where;
  const chosen = pickSample(all, sample);
  const result: DrillResult = { name: target.name, runId: manifest.runId, files: all.length, checked: chosen.length, againstLocal: 0, problems: [] };
  if (chosen.length === 0) return result;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-check-'));
  try {
    const into = path.join(scratch, 'read');
    const bySource = new Map<string, string[]>();
    for (const file of chosen) {
      const source = sourceOf(file);
      bySource.set(source, [...new Set([...(bySource.get(source) ?? []), readAs(file)])]);
    }
    let n = 0;
    for (const [source, files] of bySource) {
      const list = path.join(scratch, `pass-${n++}.list`);
      await writeFile(list, `${files.join('\n')}\n`);
      // Errors (a missing object, a hash that differs in transit) show as files missing below.
      await rclone.run(buildListedRestoreArgs(transferSettings(config, remote), source, into, list), { timeoutMs: 6 * 60 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
    }
    for (const file of chosen) {
      const copy = path.join(into, readAs(file));
      // A link kept as a link is read back as the link itself: compared by its target.
      const link = remote.links && copy.endsWith(LINK_SUFFIX) ? await readLinkBack(copy.slice(0, -LINK_SUFFIX.length), path.join(target.localDir, file.path.slice(0, -LINK_SUFFIX.length)), file) : undefined;
      if (link) {
        if (link.problem) result.problems.push({ path: file.path, problem: link.problem });
        if (link.againstLocal) result.againstLocal++;
        continue;
      }
      const read = await stat(copy).catch(() => undefined);
      if (!read) {
        result.problems.push({ path: file.path, problem: `missing on the remote (expected ${expectedAt(file)})` });
        continue;
      }
      if (read.size !== file.size) {
        result.problems.push({ path: file.path, problem: `${read.size} bytes on the remote, the run recorded ${file.size}` });
        continue;
      }
      if (file.sha256) {
        const { sha256 } = await sha256AndMd5OfFile(copy, read.size);
        if (sha256 !== file.sha256) {
          result.problems.push({ path: file.path, problem: `its content on the remote (sha256 ${sha256}) is not what the run recorded (sha256 ${file.sha256}): the stored object is damaged` });
          continue;
        }
      } else if (file.md5) {
        const md5 = await md5OfFile(copy);
        if (md5 !== file.md5) {
          result.problems.push({ path: file.path, problem: `its content on the remote (md5 ${md5}) is not what the run recorded (md5 ${file.md5}): the stored copy is damaged` });
          continue;
        }
      }
      const local = await stat(path.join(target.localDir, file.path)).catch(() => undefined);
      if (local?.isFile() && local.size === file.size && Math.floor(local.mtimeMs) === file.mtime) {
        result.againstLocal++;
        const [a, b] = await Promise.all([readFile(copy), readFile(path.join(target.localDir, file.path))]);
        if (!a.equals(b)) result.problems.push({ path: file.path, problem: 'differs from the local file, which has not changed since the run: the remote copy is damaged' });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return result;
}

/**
 * A link kept as a link, read back (as a link) at `copy`: its size is its target's length; where
 * the local link has not changed since the run (its size and time), its target must be the same.
 * Undefined when no link was read back there (then the file itself is looked at).
 */
async function readLinkBack(copy: string, local: string, file: StoredFile): Promise<{ problem?: string; againstLocal?: boolean } | undefined> {
  const read = await lstat(copy).catch(() => undefined);
  if (!read?.isSymbolicLink()) return undefined;
  if (read.size !== file.size) return { problem: `a link to a ${read.size}-byte name on the remote, the run recorded ${file.size}` };
  const here = await lstat(local).catch(() => undefined);
  if (!here?.isSymbolicLink() || here.size !== file.size || Math.floor(here.mtimeMs) !== file.mtime) return {};
  const [a, b] = await Promise.all([readlink(copy), readlink(local)]);
  return a === b ? { againstLocal: true } : { problem: 'a link to another place than the local link, which has not changed since the run: the remote copy is damaged', againstLocal: true };
}
