import { RunFailedError } from '../errors.js';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { buildCopyListedArgs, buildHistoryListArgs, buildHistoryOutlineArgs, buildPutFileArgs, buildPutStdinArgs, HISTORY_DIR, historyRoot, manifestName, manifestPath } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { directoryNotFound } from '../rclone/exit-codes.js';
import { storageIdentity, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { damagedRecord, decodeManifest, encodeManifest, type RunManifest } from './manifest.js';
import { FOLDER_ID, RUN_ID } from './run-id.js';
import { namesOfRun, type RunNames } from './retention.js';
import type { KeptVersions } from './state.js';
import { asDict, dict } from '../dict.js';

/** Everything kept under .poof-history, from one listing: per mapping, each run's versions and manifests. */
export interface HistoryListing {
  /** By mapping name: run id -> path -> size of each kept version. */
  kept: Map<string, KeptVersions>;
  /** By mapping name: the run ids that have a manifest. */
  manifests: Map<string, string[]>;
}

/** Each cache folder's check of its storage, once per process (two caches of one folder share it). */
const storageChecks = new Map<string, Promise<void>>();

/**
 * Manifests are immutable once written, so each is fetched once and kept in the state directory,
 * per remote tree; `latest.json` names each mapping's newest complete one, so a backup that
 * changed nothing writes none and asks the remote nothing.
 */
export class ManifestCache {
  readonly dir: string;
  /** The folder of this rclone config: one subfolder, the tree's and storage's, and `current`. */
  private readonly top: string;
  private readonly storage: string;

  /** `sub`: records of another layout on the same storage (append-only's), kept apart. */
  constructor(stateDir: string, remote: ResolvedRemote, sub?: 'vault') {
    this.storage = storageIdentity(remote);
    this.top = path.join(stateDir, 'versions', createHash('sha256').update(remote.configFile).digest('hex').slice(0, 16));
    this.dir = sub ? path.join(this.top, this.storage, sub) : path.join(this.top, this.storage);
  }

  /**
   * Per rclone config, for the tree and storage it reaches now: when `poof cconfig --force` (or an
   * edit) pointed it at other storage (another remote, bucket, endpoint, directory, or crypt),
   * everything remembered of the old one goes, so none of it stands in for what the new one holds
   * (and none of it comes back if it is pointed back later: that storage may have changed
   * meanwhile). Each has a folder of its own, so a run still going on the old storage meanwhile
   * writes where the new one never reads.
   */
  private ready(): Promise<void> {
    const key = this.dir;
    const known = storageChecks.get(key);
    if (known) return known;
    const check = (async () => {
      const current = path.join(this.top, 'current');
      if ((await readFile(current, 'utf8').catch(() => undefined))?.trim() === this.storage) return;
      await rm(this.top, { recursive: true, force: true });
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(current, `${this.storage}\n`);
    })().catch(() => {
      // Only a cache: a state dir that cannot be written is read as empty.
    });
    storageChecks.set(key, check);
    return check;
  }

  private file(runId: string, name: string): string {
    return path.join(this.dir, runId, manifestName(name));
  }

  async read(runId: string, name: string): Promise<RunManifest | undefined> {
    await this.ready();
    const data = await readFile(this.file(runId, name)).catch(() => undefined);
    if (!data) return undefined;
    try {
      return decodeManifest(data);
    } catch {
      return undefined;
    }
  }

  async save(manifest: RunManifest, data: Buffer): Promise<void> {
    await this.ready();
    await mkdir(path.dirname(this.file(manifest.runId, manifest.mapping)), { recursive: true, mode: 0o700 });
    await writeFile(this.file(manifest.runId, manifest.mapping), data, { mode: 0o600 });
    await this.saveNames(manifest);
    if (manifest.status !== 'complete') return;
    const latest = await this.latestAll();
    if ((latest[manifest.mapping] ?? '') < manifest.runId) {
      latest[manifest.mapping] = manifest.runId;
      await writeFileAtomic(path.join(this.dir, 'latest.json'), `${JSON.stringify(latest)}\n`);
    }
  }

  /**
   * Beside each cached record, the names of its files alone: a prune needs nothing else, and
   * reads them for every kept run (a tenth of the time of decoding the record).
   */
  private namesFile(runId: string, name: string): string {
    return `${this.file(runId, name)}.names.json`;
  }

  async saveNames(record: RunManifest): Promise<void> {
    await this.ready();
    // Derived, so not synced to disk: a file cut short is not JSON, and the record is read instead.
    await writeFile(this.namesFile(record.runId, record.mapping), JSON.stringify(record.files ? Object.keys(record.files) : null), { mode: 0o600 });
  }

  /** The names of a cached run's files (undefined names: it did not finish); undefined when not cached. */
  async names(runId: string, name: string): Promise<RunNames | undefined> {
    await this.ready();
    try {
      const names = JSON.parse(await readFile(this.namesFile(runId, name), 'utf8')) as string[] | null;
      if (names !== null && !Array.isArray(names)) return undefined;
      return { runId, ...(names ? { names } : {}) };
    } catch {
      return undefined;
    }
  }

  /** The run ids this machine has manifests of, or started, oldest first. */
  async runIds(): Promise<string[]> {
    await this.ready();
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    const started = await this.lastStarted();
    return [...entries.filter((name) => RUN_ID.test(name)), ...(started ? [started] : [])].sort();
  }

  /** The id of the last run this machine started on this storage, if it remembers one. */
  async lastStarted(): Promise<string | undefined> {
    await this.ready();
    const started = (await readFile(path.join(this.dir, 'last-started'), 'utf8').catch(() => '')).trim();
    return RUN_ID.test(started) ? started : undefined;
  }

  /** The runs of one mapping this machine has a manifest of (complete or not), oldest first. */
  async runIdsOf(name: string): Promise<string[]> {
    await this.ready();
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    const ids: string[] = [];
    for (const id of entries.filter((entry) => RUN_ID.test(entry)).sort()) {
      if (await stat(this.file(id, name)).then(() => true, () => false)) ids.push(id);
    }
    return ids;
  }

  /**
   * Remember a run's id before it moves anything: a run killed before its manifest was written
   * must never share its folder with the next run, which could then replace a version it kept.
   */
  async started(runId: string): Promise<void> {
    await this.ready();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.dir, 'last-started'), `${runId}\n`);
  }

  /** Has the mapping's mirror changed since its newest manifest (a run under way or killed, `poof watch`'s batches)? */
  async isChanging(name: string): Promise<boolean> {
    await this.ready();
    return readFile(path.join(this.dir, 'changing', encodeURIComponent(name))).then(
      () => true,
      () => false,
    );
  }

  /**
   * A mapping whose mirror may have changed since its newest complete manifest (a run is under
   * way, or was killed): the next run writes a manifest even if it changes nothing itself.
   */
  async markChanging(name: string, changing: boolean): Promise<boolean> {
    await this.ready();
    const marker = path.join(this.dir, 'changing', encodeURIComponent(name));
    const was = await readFile(marker).then(() => true, () => false);
    if (changing && !was) {
      await mkdir(path.dirname(marker), { recursive: true, mode: 0o700 });
      await writeFile(marker, '');
    } else if (!changing && was) await rm(marker, { force: true });
    return was;
  }

  /**
   * When a mapping's manifest was last made from a full listing of its mirror, and with which
   * excludes: later runs derive theirs from it and what rclone reported, for a while.
   */
  async lastListing(name: string): Promise<{ at: string; filter: string } | undefined> {
    await this.ready();
    return (await this.listings())[name];
  }

  async saveListing(name: string, filter: string, at = new Date()): Promise<void> {
    await this.ready();
    const all = await this.listings();
    all[name] = { at: at.toISOString(), filter };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.dir, 'listed.json'), `${JSON.stringify(all)}\n`);
  }

  private async listings(): Promise<Record<string, { at: string; filter: string }>> {
    try {
      return asDict(JSON.parse(await readFile(path.join(this.dir, 'listed.json'), 'utf8')) as Record<string, { at: string; filter: string }>);
    } catch {
      return dict();
    }
  }

  async saveTotals(totals: HistoryTotals): Promise<void> {
    await this.ready();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(this.dir, 'totals.json'), `${JSON.stringify(totals)}\n`);
  }

  /** The totals are no longer known (a prune stopped partway): none are shown until the next listing. */
  async forgetTotals(): Promise<void> {
    await this.ready();
    await rm(path.join(this.dir, 'totals.json'), { force: true });
  }

  async totals(): Promise<HistoryTotals | undefined> {
    await this.ready();
    try {
      return JSON.parse(await readFile(path.join(this.dir, 'totals.json'), 'utf8')) as HistoryTotals;
    } catch {
      return undefined;
    }
  }

  /** Remember a record as one this machine wrote itself (not one it read). */
  async markWritten(record: RunManifest): Promise<void> {
    await this.ready();
    const written = await this.writtenAll();
    written[record.mapping] = record.runId;
    await writeFileAtomic(path.join(this.dir, 'written.json'), `${JSON.stringify(written)}\n`);
  }

  /** The last complete record this machine itself wrote of a mapping. */
  async writtenHere(name: string): Promise<RunManifest | undefined> {
    await this.ready();
    const id = (await this.writtenAll())[name];
    const record = id ? await this.read(id, name) : undefined;
    return record?.files ? record : undefined;
  }

  private async writtenAll(): Promise<Record<string, string>> {
    try {
      return asDict(JSON.parse(await readFile(path.join(this.dir, 'written.json'), 'utf8')) as Record<string, string>);
    } catch {
      return dict();
    }
  }

  /** The newest complete manifest this machine wrote or read for a mapping. */
  async latestId(name: string): Promise<string | undefined> {
    await this.ready();
    return (await this.latestAll())[name];
  }

  async latest(name: string): Promise<RunManifest | undefined> {
    await this.ready();
    const id = (await this.latestAll())[name];
    return id ? this.read(id, name) : undefined;
  }

  private async latestAll(): Promise<Record<string, string>> {
    try {
      return asDict(JSON.parse(await readFile(path.join(this.dir, 'latest.json'), 'utf8')) as Record<string, string>);
    } catch {
      return dict();
    }
  }
}

/** What the remote keeps, as last listed: for `poof status` and `poof verify`. */
export interface HistoryTotals {
  /** When it was listed (ISO). */
  listed: string;
  /** Runs with a record (complete or not), over all mappings. */
  runs: number;
  versions: number;
  bytes: number;
  newest?: string | undefined;
  oldest?: string | undefined;
}

/** Pure: the totals of a listing. */
export function totalsOf(listing: HistoryListing, listed: Date): HistoryTotals {
  const ids = [...listing.manifests.values()].flat().sort();
  let versions = 0;
  let bytes = 0;
  for (const byRun of listing.kept.values()) for (const files of byRun.values()) for (const size of files.values()) (versions++, (bytes += size));
  return { listed: listed.toISOString(), runs: ids.length, versions, bytes, newest: ids.at(-1), oldest: ids[0] };
}

/**
 * An `rclone rcat` of one run's manifest, started while the transfer still runs, so its
 * start-up (~60 ms, a tenth of a small run) is not paid after it. It gets its input only
 * whole: stopped unused, it is ended by a signal (SIGTERM, or the group's SIGINT) and writes
 * nothing. If poof dies without stopping it, rclone stores an empty record, which reads as a
 * run that did not finish (readManifests), as it is.
 */
export interface ManifestWriter {
  /** Send the manifest and wait until it is stored: why it was not, or undefined. */
  put(data: Buffer, timeoutMs: number): Promise<string | undefined>;
  /** Stop it unused (a no-op once put). */
  stop(): void;
}

export function startManifestWriter(rclone: Rclone, remote: ResolvedRemote, runId: string, mapping: string): ManifestWriter {
  const onDisk = diskManifestPath(remote, runId, mapping);
  if (onDisk) return diskManifestWriter(onDisk);
  const input = new PassThrough();
  const stopper = new AbortController();
  const running = rclone.run(buildPutStdinArgs(remote.configFile, manifestPath(remote.root, runId, mapping)), { input, cancelSignal: stopper.signal });
  // A writer stopped unused ends by a signal: nobody awaits it, and nothing is wrong.
  running.catch(() => undefined);
  let given = false;
  return {
    async put(data, timeoutMs) {
      if (stopper.signal.aborted) return 'stopped';
      given = true;
      const timer = setTimeout(() => stopper.abort(), timeoutMs);
      input.end(data);
      try {
        const result = await running;
        return result.exitCode === 0 ? undefined : `rclone exited ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}: ${lastErrorLine(result.stderr)}`;
      } finally {
        clearTimeout(timer);
      }
    },
    stop() {
      if (!given) stopper.abort();
    },
  };
}

/**
 * Pure: where a manifest is on this machine's disk, for a local-directory "cloud" and a name
 * rclone's local backend stores as it is (printable ASCII: no character it encodes), so poof can
 * write it itself instead of starting an rclone for it.
 */
export function diskManifestPath(remote: ResolvedRemote, runId: string, mapping: string): string | undefined {
  if (!remote.localDir || !/^[\x20-\x7e]+$/.test(mapping)) return undefined;
  return path.join(remote.localDir, HISTORY_DIR, runId, manifestName(mapping));
}

/**
 * A manifest written straight to a local-directory "cloud": created (never over another), synced
 * to disk, with the mode rclone would give it. A record cut short (poof killed, the power lost)
 * reads as a run that did not finish, as one rclone left empty does.
 */
function diskManifestWriter(file: string): ManifestWriter {
  return {
    async put(data) {
      try {
        await mkdir(path.dirname(file), { recursive: true });
        const handle = await open(file, 'wx', 0o666);
        try {
          await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        return undefined;
      } catch (error) {
        return (error as Error).message;
      }
    },
    stop() {},
  };
}

/**
 * Write one manifest to the remote (and the cache): through the writer started for it, else
 * (or if that failed) a temporary file and `rclone copyto`.
 */
export async function putManifest(rclone: Rclone, remote: ResolvedRemote, cache: ManifestCache, manifest: RunManifest, timeoutMs = 10 * 60_000, writer?: ManifestWriter, fallback = true): Promise<void> {
  const data = encodeManifest(manifest);
  writer ??= diskManifestPath(remote, manifest.runId, manifest.mapping) ? startManifestWriter(rclone, remote, manifest.runId, manifest.mapping) : undefined;
  const problem = writer ? await writer.put(data, timeoutMs) : 'no writer';
  // Best effort (the record of a run that failed, perhaps because the remote went away): one try.
  if (problem !== undefined && writer && !fallback) throw new Error(`not stored: ${problem}`);
  if (problem !== undefined) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-manifest-'));
    try {
      const local = path.join(scratch, manifestName(manifest.mapping));
      await writeFile(local, data, { mode: 0o600 });
      const result = await rclone.run(buildPutFileArgs(remote.configFile, local, manifestPath(remote.root, manifest.runId, manifest.mapping)), { timeoutMs });
      if (result.exitCode !== 0) throw new Error(`rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  await cache.save(manifest, data);
}

/**
 * The newest run of each mapping, when it did not finish and wrote no record: its folder of
 * replaced versions is on the remote, its record is not (the machine that ran it was stopped,
 * lost or cut off). Such a run may have left a file it was writing cut short in the mirror
 * (rclone before 1.63 writes in place; later ones leave `NAME.<hex>.partial`). Only the remote
 * shows it, so a new laptop learns it too. By mapping: that run, and the newest run before it
 * with a record. One listing, two levels deep; undefined when the remote could not be listed.
 */
export async function unrecordedNewestRuns(rclone: Rclone, remote: ResolvedRemote, names: string[], cancelSignal?: AbortSignal): Promise<Map<string, UnfinishedRun> | undefined> {
  const result = await rclone.run(buildHistoryOutlineArgs(remote.configFile, remote.root), { timeoutMs: 5 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
  if (directoryNotFound(result)) return new Map();
  if (result.exitCode !== 0) return undefined;
  const wanted = new Set(names);
  const records = new Map<string, Set<string>>();
  const folders = new Map<string, Set<string>>();
  for (const line of result.stdout.split('\n')) {
    const [runId, entry] = line.split('/');
    if (!runId || !RUN_ID.test(runId) || !entry) continue;
    const record = /^(.+)\.run\.json\.gz$/.exec(entry)?.[1];
    const name = record ?? (line.endsWith('/') ? entry : undefined);
    if (!name || !wanted.has(name)) continue;
    const into = record ? records : folders;
    into.set(name, (into.get(name) ?? new Set()).add(runId));
  }
  const found = new Map<string, UnfinishedRun>();
  for (const name of wanted) {
    // A record's status is not read here: any record counts as finished.
    const unfinished = unfinishedNewest([...(records.get(name) ?? [])].map((id) => ({ id, complete: true })), [...(folders.get(name) ?? [])]);
    if (unfinished) found.set(name, unfinished);
  }
  return found;
}

export interface UnfinishedRun {
  runId: string;
  /** The newest complete run before it. */
  before?: string;
  /** It has a record (saying it did not finish); else only its folder is there. */
  recorded?: boolean;
}

/**
 * Pure: the newest of a mapping's runs (by record, or by a folder of replaced versions) when it
 * did not finish, with the newest complete run before it; undefined when the newest finished.
 */
export function unfinishedNewest(runs: Array<{ id: string; complete: boolean }>, folders: string[]): UnfinishedRun | undefined {
  const newest = [...runs.map((r) => r.id), ...folders.filter((id) => RUN_ID.test(id))].sort().at(-1);
  if (!newest || runs.some((r) => r.id === newest && r.complete)) return undefined;
  const before = runs.filter((r) => r.complete && r.id < newest).map((r) => r.id).sort().at(-1);
  return { runId: newest, ...(before ? { before } : {}), ...(runs.some((r) => r.id === newest) ? { recorded: true } : {}) };
}

/** List the whole history in one rclone call; a remote without one yet has an empty history. */
export async function listHistory(rclone: Rclone, remote: ResolvedRemote, cancelSignal?: AbortSignal, cache?: ManifestCache): Promise<HistoryListing> {
  const result = await rclone.run(buildHistoryListArgs(remote.configFile, remote.root, Boolean(remote.tuning.fastList)), { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
  const listing: HistoryListing = { kept: new Map(), manifests: new Map() };
  // Exit 3: no .poof-history yet (rclone 1.60 and 1.75 alike).
  if (directoryNotFound(result)) return listing;
  if (result.exitCode !== 0) throw new RunFailedError(`could not list ${historyRoot(remote.root)}: rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
  for (const entry of JSON.parse(result.stdout || '[]') as Array<{ Path: string; Size: number }>) {
    const [runId, first, ...rest] = entry.Path.split('/');
    if (!runId || !FOLDER_ID.test(runId) || !first) continue;
    if (rest.length === 0) {
      if (!RUN_ID.test(runId)) continue;
      const manifest = /^(.+)\.run\.json\.gz$/.exec(first);
      if (manifest) listing.manifests.set(manifest[1]!, [...(listing.manifests.get(manifest[1]!) ?? []), runId].sort());
      continue;
    }
    const byRun = listing.kept.get(first) ?? new Map<string, Map<string, number>>();
    listing.kept.set(first, byRun);
    const files = byRun.get(runId) ?? new Map<string, number>();
    byRun.set(runId, files);
    files.set(rest.join('/'), entry.Size);
  }
  await cache?.saveTotals(totalsOf(listing, new Date())).catch(() => undefined);
  return listing;
}

/** Where records are, below which folder of the remote: a mirror's history, or an append-only vault. */
export interface RecordLayout {
  root: (remoteRoot: string) => string;
  rel: (runId: string, name: string) => string;
}

export const MIRROR_RECORDS: RecordLayout = { root: historyRoot, rel: (id, name) => `${id}/${manifestName(name)}` };

/**
 * Read the manifests of one mapping, fetching the ones this machine has not seen in one rclone
 * call. A record that cannot be read (cut short, altered, another run's) stands for a run that
 * did not finish, and is not cached: a later read tries it again.
 */
export async function readManifests(rclone: Rclone, remote: ResolvedRemote, cache: ManifestCache, name: string, runIds: string[], cancelSignal?: AbortSignal, layout: RecordLayout = MIRROR_RECORDS): Promise<RunManifest[]> {
  const found = new Map<string, RunManifest>();
  for (const id of runIds) {
    const cached = await cache.read(id, name);
    if (cached) found.set(id, cached);
  }
  const missing = runIds.filter((id) => !found.has(id));
  if (missing.length > 0) {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-manifests-'));
    try {
      const list = path.join(scratch, 'files.list');
      await writeFile(list, `${missing.map((id) => layout.rel(id, name)).join('\n')}\n`);
      const into = path.join(scratch, 'in');
      const result = await rclone.run(buildCopyListedArgs(remote.configFile, layout.root(remote.root), into, list, false), { timeoutMs: 30 * 60_000, ...(cancelSignal ? { cancelSignal } : {}) });
      if (result.exitCode !== 0) throw new RunFailedError(`could not read the run manifests of ${name}: rclone exited ${result.exitCode}: ${lastErrorLine(result.stderr)}`);
      for (const id of missing) {
        const data = await readFile(path.join(into, layout.rel(id, name)));
        let manifest: RunManifest;
        try {
          manifest = decodeManifest(data);
        } catch (error) {
          found.set(id, damagedRecord(id, name, data.length === 0 ? 'empty: poof was stopped before it wrote it' : (error as Error).message));
          continue;
        }
        if (manifest.runId !== id || manifest.mapping !== name) {
          found.set(id, damagedRecord(id, name, `it names run ${manifest.runId} of ${manifest.mapping}`));
          continue;
        }
        await cache.save(manifest, data);
        found.set(id, manifest);
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return runIds.map((id) => found.get(id)!);
}

/** What a prune needs of each run of one mapping: the cached names, else the records, read as readManifests does. */
export async function readRunNames(rclone: Rclone, remote: ResolvedRemote, cache: ManifestCache, name: string, runIds: string[], cancelSignal?: AbortSignal): Promise<RunNames[]> {
  const found = new Map<string, RunNames>();
  for (const id of runIds) {
    const names = await cache.names(id, name);
    if (names) found.set(id, names);
  }
  const rest = runIds.filter((id) => !found.has(id));
  for (const record of rest.length > 0 ? await readManifests(rclone, remote, cache, name, rest, cancelSignal) : []) {
    found.set(record.runId, namesOfRun(record));
    // Records cached before names were: from now on, their names alone.
    if (!record.damaged) await cache.saveNames(record);
  }
  return runIds.map((id) => found.get(id)!);
}
