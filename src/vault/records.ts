import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { ENCODED_BY_RCLONE } from '../fs/local-tree.js';
import os from 'node:os';
import path from 'node:path';
import { RunFailedError } from '../errors.js';
import { capabilitiesOf } from '../rclone/capabilities.js';
import { directoryNotFound } from '../rclone/exit-codes.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { damagedRecord, encodeManifest, type FileState, type RunManifest } from '../versions/manifest.js';
import { ManifestCache, readManifests, type RecordLayout } from '../versions/store.js';
import { buildRecordPutArgs, buildRunsListArgs, parseVaultRecordName, runsRoot, VAULT_DIR, vaultRecordName, type WriteFlags } from './layout.js';

export const VAULT_RECORDS: RecordLayout = { root: runsRoot, rel: vaultRecordName };

/** The records this machine has read or written of an append-only vault, apart from a mirror's. */
export function vaultCache(stateDir: string, remote: ResolvedRemote): ManifestCache {
  return new ManifestCache(stateDir, remote, 'vault');
}

/** Pure: the flags a vault write needs with this rclone. */
export function writeFlagsOf(rclone: Pick<Rclone, 'version'>): WriteFlags {
  const can = capabilitiesOf(rclone.version);
  return { partialUploads: can.partialUploads, directoryTimes: can.directoryMetadata };
}

/**
 * By mapping: the run ids with a record in runs/, oldest first (one listing). On a local-directory
 * "cloud" the folder is read by poof itself (an rclone start is most of a no-change run there),
 * unless a name in it is one rclone spells otherwise on disk.
 */
export async function listVaultRuns(rclone: Rclone, remote: ResolvedRemote, cancelSignal?: AbortSignal): Promise<Map<string, string[]>> {
  const onDisk = remote.localDir ? await readdir(path.join(remote.localDir, VAULT_DIR, 'runs')).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : undefined)) : undefined;
  const names = onDisk && !onDisk.some((name) => ENCODED_BY_RCLONE.test(name)) ? onDisk : await listRunsWithRclone(rclone, remote, cancelSignal);
  const runs = new Map<string, string[]>();
  for (const line of names) {
    const parsed = parseVaultRecordName(line.trim());
    if (parsed) runs.set(parsed.mapping, [...(runs.get(parsed.mapping) ?? []), parsed.runId]);
  }
  for (const ids of runs.values()) ids.sort();
  return runs;
}

async function listRunsWithRclone(rclone: Rclone, remote: ResolvedRemote, cancelSignal?: AbortSignal): Promise<string[]> {
  const result = await rclone.run(buildRunsListArgs(remote.configFile, remote.root), { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
  if (directoryNotFound(result)) return [];
  if (result.exitCode !== 0) throw new RunFailedError(`could not list ${runsRoot(remote.root)}: rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
  return result.stdout.split('\n');
}

/** Every record of one mapping (listed in runs/), oldest first, fetching those not cached. */
export async function readVaultRecords(rclone: Rclone, remote: ResolvedRemote, cache: ManifestCache, name: string, runIds: string[], cancelSignal?: AbortSignal): Promise<RunManifest[]> {
  // Every file of an append-only run is in an object: an entry without its hash is not poof's.
  return (await readManifests(rclone, remote, cache, name, runIds, cancelSignal, VAULT_RECORDS)).map((record) => {
    const bare = Object.entries(record.files ?? {}).find(([, state]) => state.sha256 === undefined);
    return bare ? damagedRecord(record.runId, name, `it lists ${JSON.stringify(bare[0])} without its content's hash`) : record;
  });
}

/**
 * Write one run's record into runs/, under a name no record has: rclone must say it copied it
 * (with --ignore-existing an existing name is skipped silently, which is an error here).
 */
export async function putVaultRecord(rclone: Rclone, remote: ResolvedRemote, cache: ManifestCache, record: RunManifest, cancelSignal?: AbortSignal): Promise<void> {
  const data = encodeManifest(record);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-record-'));
  try {
    const name = vaultRecordName(record.runId, record.mapping);
    const local = path.join(scratch, 'record');
    await writeFile(local, data, { mode: 0o600 });
    const result = await rclone.run(buildRecordPutArgs(remote.configFile, local, remote.root, name, writeFlagsOf(rclone)), { timeoutMs: 10 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
    if (result.exitCode !== 0) throw new Error(`rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
    if (!/Copied \(new\)/.test(result.stderr)) throw new Error(`${runsRoot(remote.root)}/${name} exists already: another run took this id`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await cache.save(record, data);
  // Only what the next run builds on: without it, that run proves every content again.
  await cache.markWritten(record).catch(() => undefined);
}

/** Pure: the object holding a recorded file's content (`xx/<key>` below data/). */
export function objectKeyOf(state: FileState): string | undefined {
  return state.object ?? state.sha256;
}
