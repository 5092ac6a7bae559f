import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { asDict, dict } from '../dict.js';
import { RunFailedError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { baseFlags } from '../rclone/args.js';
import { directoryNotFound } from '../rclone/exit-codes.js';
import { buildDeleteListedArgs } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { storageIdentity, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import type { RunManifest } from '../versions/manifest.js';
import { timeOfRunId } from '../versions/run-id.js';
import { dataRoot, objectPath, runsRoot, vaultRecordName } from './layout.js';
import { listVaultRuns, objectKeyOf, readVaultRecords, vaultCache } from './records.js';

/** How long an object no record names waits before a prune removes it: a backup (a first one may take days) may be sending it now. */
export const UNNAMED_GRACE_MS = 7 * 24 * 3600_000;

/** What a prune of an append-only vault removes (or would), and keeps. */
export interface VaultPrunePlan {
  /** By mapping: the runs whose records go (older than `within`, never a mapping's newest complete run). */
  expired: Map<string, string[]>;
  /** By mapping: the runs kept. */
  kept: Map<string, string[]>;
  /** Objects (`xx/<key>`) no kept run names, removed now, and their bytes. */
  objects: string[];
  bytes: number;
  /** Objects and leftovers no record names, seen so before for less than a day: left for a later prune. */
  waiting: number;
}

/**
 * Pure: which runs a prune keeps. Only by age, counted back from `now` on the machine that prunes,
 * never from the newest run: a writer (malware on the laptop) can add runs, and runs dated in the
 * future, but cannot make a real run look older, so it cannot get real runs pruned. Every
 * mapping's newest complete run stays whatever its age, so does the newest one older than the
 * window (a restore of any moment within it), and so does every run dated after `now`.
 */
export function expiredRuns(records: RunManifest[], withinMs: number, now: Date): { expired: string[]; kept: string[] } {
  // The newest real run: a record dated after now (planted) must not stand in for it. And the
  // newest as of the start of the window, so any moment within it can be restored.
  const complete = records.filter((r) => r.status === 'complete' && r.files && !r.damaged).map((r) => r.runId).sort();
  const newest = complete.filter((id) => timeOfRunId(id).getTime() <= now.getTime()).at(-1);
  const atStart = complete.filter((id) => now.getTime() - timeOfRunId(id).getTime() > withinMs).at(-1);
  const expired: string[] = [];
  const kept: string[] = [];
  for (const record of records) {
    const old = now.getTime() - timeOfRunId(record.runId).getTime() > withinMs;
    (old && record.runId !== newest && record.runId !== atStart ? expired : kept).push(record.runId);
  }
  return { expired: expired.sort(), kept: kept.sort() };
}

/**
 * Pure: the objects to remove now, and the unnamed ones to wait for. An object named only by
 * expired runs goes. One no record names at all (a killed run's, one a backup is sending right
 * now, a leftover ".partial") goes only once an earlier prune, at least UNNAMED_GRACE_MS before,
 * found it unnamed too: `seen` holds when each was first found so, and is returned updated.
 */
export function objectsToRemove(stored: Map<string, number>, keptNames: Set<string>, anyNames: Set<string>, seen: Record<string, string>, now: Date): { remove: string[]; waiting: string[]; seen: Record<string, string> } {
  const remove: string[] = [];
  const waiting: string[] = [];
  const next: Record<string, string> = dict();
  for (const object of [...stored.keys()].sort()) {
    if (keptNames.has(object)) continue;
    if (anyNames.has(object)) {
      remove.push(object);
      continue;
    }
    const first = seen[object] ?? now.toISOString();
    next[object] = first;
    if (now.getTime() - Date.parse(first) >= UNNAMED_GRACE_MS) remove.push(object);
    else waiting.push(object);
  }
  return { remove, waiting, seen: next };
}

/**
 * Prune an append-only vault with a key that can delete: every mapping's records (also of
 * mappings this poof.conf no longer has: their runs name objects too), expired by age, then the
 * objects no kept run names. The records go first, in a deletion of their own: at every moment a
 * run that has a record is whole. A dry run lists and reads, and removes nothing.
 */
export async function pruneVault(stateDir: string, rclone: Rclone, remote: ResolvedRemote, options: { withinMs: number; only?: string[] | undefined; dryRun: boolean; cancelSignal?: AbortSignal; now?: Date }): Promise<VaultPrunePlan> {
  const now = options.now ?? new Date();
  const cache = vaultCache(stateDir, remote);
  const runs = await listVaultRuns(rclone, remote, options.cancelSignal);
  const plan: VaultPrunePlan = { expired: new Map(), kept: new Map(), objects: [], bytes: 0, waiting: 0 };
  const keptNames = new Set<string>();
  const anyNames = new Set<string>();
  for (const [name, ids] of [...runs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const records = await readVaultRecords(rclone, remote, cache, name, ids, options.cancelSignal);
    const { expired, kept } = options.only && !options.only.includes(name) ? { expired: [], kept: ids } : expiredRuns(records, options.withinMs, now);
    plan.expired.set(name, expired);
    plan.kept.set(name, kept);
    const keep = new Set(kept);
    for (const record of records) {
      for (const state of Object.values(record.files ?? {})) {
        const key = objectKeyOf(state);
        if (!key) continue;
        anyNames.add(objectPath(key));
        if (keep.has(record.runId)) keptNames.add(objectPath(key));
      }
    }
  }
  const stored = await listObjects(rclone, remote, options.cancelSignal);
  const seenFile = path.join(stateDir, 'vault-unnamed', `${createHash('sha256').update(`${remote.configFile}\n${storageIdentity(remote)}`).digest('hex').slice(0, 16)}.json`);
  const seen = await readFile(seenFile, 'utf8').then((text) => asDict(JSON.parse(text) as Record<string, string>), () => dict<string>());
  const chosen = objectsToRemove(stored, keptNames, anyNames, seen, now);
  plan.objects = chosen.remove;
  plan.bytes = chosen.remove.reduce((sum, object) => sum + (stored.get(object) ?? 0), 0);
  plan.waiting = chosen.waiting.length;
  if (options.dryRun) return plan;
  await mkdir(path.dirname(seenFile), { recursive: true, mode: 0o700 });
  await writeFileAtomic(seenFile, `${JSON.stringify(chosen.seen)}\n`);
  const records = [...plan.expired].flatMap(([name, ids]) => ids.map((id) => vaultRecordName(id, name)));
  await deleteListed(rclone, remote, runsRoot(remote.root), records, 'the records of the expired runs', options.cancelSignal);
  // A backup that finished meanwhile may name an object this prune found unneeded: spare those.
  const listedFirst = new Set([...runs].flatMap(([name, ids]) => ids.map((id) => vaultRecordName(id, name))));
  for (const [name, ids] of await listVaultRuns(rclone, remote, options.cancelSignal)) {
    const added = ids.filter((id) => !listedFirst.has(vaultRecordName(id, name)));
    for (const record of added.length > 0 ? await readVaultRecords(rclone, remote, cache, name, added, options.cancelSignal) : []) {
      // One still being written reads as damaged: what it names is not known, so no object goes now.
      if (record.damaged) plan.objects = [];
      const named = new Set(Object.values(record.files ?? {}).map((state) => objectKeyOf(state)).filter((key): key is string => key !== undefined).map(objectPath));
      plan.objects = plan.objects.filter((object) => !named.has(object));
    }
  }
  plan.bytes = plan.objects.reduce((sum, object) => sum + (stored.get(object) ?? 0), 0);
  await deleteListed(rclone, remote, dataRoot(remote.root), plan.objects, 'the objects no kept run needs', options.cancelSignal);
  return plan;
}

/** Every object below data/ with its size, by `xx/<name>` (anything else stored there too: leftovers are removed like objects). */
async function listObjects(rclone: Rclone, remote: ResolvedRemote, cancelSignal?: AbortSignal): Promise<Map<string, number>> {
  const result = await rclone.run(['lsjson', dataRoot(remote.root), '-R', '--files-only', ...baseFlags(remote.configFile), '--contimeout', '30s', '--timeout', '2m', ...(remote.tuning.fastList ? ['--fast-list'] : [])], { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
  const out = new Map<string, number>();
  if (directoryNotFound(result)) return out;
  if (result.exitCode !== 0) throw new RunFailedError(`could not list ${dataRoot(remote.root)}: rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
  for (const entry of JSON.parse(result.stdout || '[]') as Array<{ Path: string; Size: number }>) out.set(entry.Path, entry.Size);
  return out;
}

async function deleteListed(rclone: Rclone, remote: ResolvedRemote, root: string, files: string[], what: string, cancelSignal?: AbortSignal): Promise<void> {
  if (files.length === 0) return;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-prune-'));
  try {
    const list = path.join(scratch, 'delete.list');
    await writeFile(list, `${files.join('\n')}\n`);
    const result = await rclone.run(buildDeleteListedArgs(remote.configFile, root, list), { timeoutMs: 60 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
    if (result.exitCode !== 0) throw new RunFailedError(`the prune stopped while removing ${what} (rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}); every run \`poof history\` lists restores whole, and the next prune finishes the job`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
