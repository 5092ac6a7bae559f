import type { StoredCopy } from '../fs/stored-copy.js';
import type { Context } from '../context.js';
import type { MappingPlan } from '../engine/plan.js';
import type { TransferResult } from '../engine/result.js';
import { runMapping, runMappingRetryingChanged, type MappingHooks } from '../engine/run-mapping.js';
import { buildListArgs, buildSyncArgs } from '../rclone/args.js';
import { historyFolder, historyRoot } from '../rclone/history-args.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { directoryNotFound } from '../rclone/exit-codes.js';
import { RunFailedError } from '../errors.js';
import { FOLDER_ID, runOfFolder } from '../versions/run-id.js';
import { detectChanges, needsSentRecord, runWithSentRecord } from '../engine/sent-transfer.js';
import { mappingPath, mirrorDirOnDisk, storageIdentity, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import type { PoofConfig } from '../config/schema.js';
import type { RunAllOutcome } from '../engine/run-all.js';
import type { MappingPrune } from '../versions/prune.js';
import { pruneHistory } from './prune-history.js';
import type { RunSetup } from './setup.js';
import { recordRun, stateOfSent, type RecordContext, type RecordOutcome } from '../versions/record-run.js';
import { runIdFor } from '../versions/run-id.js';
import { ManifestCache, startManifestWriter, type ManifestWriter } from '../versions/store.js';
import { DEFAULT_KEEP, selectKept, type KeepPolicy } from '../versions/retention.js';
import { sentStoreIn } from './sent-store.js';
import type { ChangeDetection, SentRecord } from '../engine/sent-record.js';
import type { FileState, RunManifest } from '../versions/manifest.js';

export type Transfer = (plan: MappingPlan, hooks: MappingHooks) => Promise<TransferResult>;

/**
 * How this run's backups transfer: with poof's record of what was sent where the storage cannot
 * show every change by itself (no times and no hashes, or modes kept), else rclone's comparison
 * alone. A dry run changes nothing and records nothing.
 */
export async function chooseTransfer(ctx: Context, rclone: Rclone, remote: ResolvedRemote, cancelSignal: AbortSignal, dryRun: boolean, history?: HistoryRun, asked?: Promise<ChangeDetection | undefined>): Promise<Transfer> {
  const plain: Transfer = (plan, hooks) => runMappingRetryingChanged(rclone, plan, hooks);
  if (dryRun) return plain;
  const detection = (await asked) ?? (await detectChanges(rclone, remote, cancelSignal, ctx.paths.featuresCache));
  let transfer = plain;
  if (needsSentRecord(detection, remote)) {
    const store = sentStoreIn(ctx.paths.stateDir, storageIdentity(remote));
    // On a local-directory "cloud" a run's record is read from the mirror itself (record-run.ts),
    // so the walk for modes can run beside the transfer.
    const storage = { withModes: remote.keepsModes, sizeOnly: detection.sizeOnly, precisionNs: detection.modTime ? detection.precisionNs : undefined, mirrorOnDisk: (name: string) => mirrorDirOnDisk(remote, name) };
    transfer = (plan, hooks) => runWithSentRecord(rclone, plan, hooks, store, storage);
  }
  const limited = remote.tuning.maxDelete !== undefined ? limitingDeletes(transfer, rclone, remote.tuning.maxDelete) : transfer;
  const exactTimes = detection.modTime && detection.precisionNs !== undefined && detection.precisionNs <= 1_000_000;
  return history ? recordingHistory(limited, { rclone, remote, ...history, exactTimes }) : unrecorded(limited, new ManifestCache(ctx.paths.stateDir, remote));
}

/**
 * Ask how the storage shows changes now, while the run's other first questions are asked (on a
 * first run each is an rclone call): chooseTransfer takes the answer. None for a dry run.
 */
export function askChanges(ctx: Context, rclone: Rclone, remote: ResolvedRemote, cancelSignal: AbortSignal, dryRun: boolean): Promise<ChangeDetection | undefined> | undefined {
  if (dryRun) return undefined;
  return detectChanges(rclone, remote, cancelSignal, ctx.paths.featuresCache).catch(() => undefined);
}

/**
 * History off ("history": false): the run changes the mirror with no manifest, so a later run
 * with history on must list the whole mirror rather than derive its manifest from one that
 * predates these changes.
 */
function unrecorded(transfer: Transfer, cache: ManifestCache): Transfer {
  return async (plan, hooks) => {
    if (!plan.refusal) await cache.markChanging(plan.name, true);
    return transfer(plan, hooks);
  };
}

/**
 * rclone.maxDelete where rclone cannot apply it as poof.conf means it (history on S3-like storage:
 * rclone counts the delete half of every move into the history folder): a dry run first counts
 * the files that would leave the mirror, and more than the limit stops the mapping before
 * anything changes.
 */
function limitingDeletes(transfer: Transfer, rclone: Rclone, limit: number): Transfer {
  return async (plan, hooks) => {
    if (!plan.syncInput?.deleteLimitByPoof || plan.refusal || hooks.dryRun) return transfer(plan, hooks);
    const { backupDir: _history, ...mirrorOnly } = plan.syncInput;
    const dry = await runMapping(rclone, { ...plan, args: buildSyncArgs({ ...mirrorOnly, dryRun: true }) }, { ...hooks, dryRun: true, emit: () => undefined });
    const { changing: _changing, ...counted } = dry;
    if (counted.status !== 'ok') return { ...counted, copied: 0, deleted: 0 };
    if (counted.deleted <= limit) return transfer(plan, hooks);
    // Refused: like a refused mapping, nothing ran, so there is no run to record.
    return {
      ...counted,
      status: 'refused',
      copied: 0,
      deleted: 0,
      reason: `the backup would delete ${counted.deleted} files on the remote, more than poof.conf's rclone.maxDelete (${limit}) allows; nothing was changed; check that the local directory is complete (an unmounted disk or a moved folder looks like deleted files), and if the deletions are meant, raise rclone.maxDelete for one run`,
    };
  };
}

/** This run's history: its id (the folder of replaced versions) and what its manifests say. */
export type HistoryRun = Omit<RecordContext, 'rclone' | 'remote'> & {
  /** On a machine new to the remote: whether each mapping's mirror is empty, asked at the start. */
  emptyMirrors?: ReadonlyMap<string, Promise<boolean>>;
};

/**
 * Start a run's history when poof.conf keeps it (the default) and the run changes data. Its id
 * sorts after every run this machine started and, on a machine new to this remote (a restored
 * laptop, whose clock may be behind), after every run the remote holds: the order of ids is the
 * order of runs, which restores and prunes rely on.
 */
export async function startHistory(ctx: Context, config: PoofConfig, remote: ResolvedRemote, rclone: Rclone, command: string, dryRun: boolean): Promise<HistoryRun | undefined> {
  if (config.history === false || dryRun) return undefined;
  const cache = new ManifestCache(ctx.paths.stateDir, remote);
  const started = new Date();
  let known = await cache.runIds();
  let emptyMirrors: Map<string, Promise<boolean>> | undefined;
  if (known.length === 0) {
    // A machine new to this remote (or its first run): each mapping's record will need to know
    // whether its mirror is empty (recordingHistory). Asked alongside the listing of runs.
    emptyMirrors = new Map(Object.values(config.paths).map((name) => [name, mirrorIsEmpty(rclone, remote, mappingPath(config, remote, name)).catch(() => false)]));
    known = await listRunIds(rclone, remote, command);
  } else if (!(await cache.lastStarted())) {
    // Runs read here (history, a restore) but none started here since this machine's memory of
    // the remote began: a run that was killed before its record may have left a folder there.
    known = [...known, ...(await listRunIds(rclone, remote, command))];
  }
  const runId = runIdFor(started, known);
  await cache.started(runId);
  const localMirrors = Boolean(remote.localDir) && config.symlinks !== 'links';
  return { cache, runId, command, started, excludes: config.excludes, recorded: [], localMirrors, ...(emptyMirrors ? { emptyMirrors } : {}) };
}

/** Does the mirror hold nothing yet (missing, or no entry at its top)? Any doubt answers no. */
async function mirrorIsEmpty(rclone: Rclone, remote: ResolvedRemote, remotePath: string): Promise<boolean> {
  const listed = await rclone.run(buildListArgs(remote.configFile, remotePath, 'quick'), { timeoutMs: 60_000 });
  if (directoryNotFound(listed)) return true;
  return listed.exitCode === 0 && listed.stdout.trim() === '';
}

/** The runs on the remote, from one listing of the top of .poof-history. */
async function listRunIds(rclone: Rclone, remote: ResolvedRemote, command: string): Promise<string[]> {
  const listed = await rclone.run(buildListArgs(remote.configFile, historyRoot(remote.root), 'quick'), { timeoutMs: 5 * 60_000 });
  if (directoryNotFound(listed)) return [];
  if (listed.exitCode !== 0) {
    const nothing = command === 'upload' ? 'nothing was copied and nothing was wiped' : 'nothing was copied';
    throw new RunFailedError(`${command} did not start: could not list the runs kept in ${historyRoot(remote.root)} (rclone exited ${listed.exitCode}: ${lastErrorLine(listed.stderr)}); ${nothing}`, 'check the remote with `poof verify`');
  }
  return listed.stdout.split('\n').map((line) => line.replace(/\/$/, '')).filter((name) => FOLDER_ID.test(name)).map(runOfFolder);
}

/** After each transfer, the run's manifest; a finished transfer whose manifest is missing failed. */
function recordingHistory(transfer: Transfer, context: RecordContext & Pick<HistoryRun, 'emptyMirrors'>): Transfer {
  return async (plan, hooks) => {
    const wasChanging = plan.refusal ? false : await context.cache.markChanging(plan.name, true);
    // No manifest on this machine and an empty mirror: a first backup, whose record needs no
    // listing of the whole mirror after it (10,000 objects took 11 s on s3rver). Asked only where
    // the record can be made from the source's listing (exact times).
    const firstHere = !plan.refusal && !wasChanging && !(await context.cache.latestId(plan.name));
    // Known anyway on a machine new to the remote (asked with the run's first questions); asked
    // here only where it saves the listing of the whole mirror after the transfer.
    const known = firstHere ? context.emptyMirrors?.get(plan.name) : undefined;
    const mirrorWasEmpty = firstHere && (known || context.exactTimes) ? await (known ?? mirrorIsEmpty(context.rclone, context.remote, plan.remotePath)) : false;
    const emptyBefore = context.exactTimes && mirrorWasEmpty;
    const sent = new Set<string>();
    const storedCopies = new Map<string, StoredCopy | undefined>();
    const touched = new Set<string>();
    const removed = new Set<string>();
    const displaced = new Set<string>();
    let source: SentRecord | undefined;
    const passFolders: string[] = [];
    const passFolder = () => {
      const folder = historyFolder(context.remote.root, `${context.runId}-${passFolders.length + 2}`, plan.name);
      passFolders.push(folder);
      return folder;
    };
    // The run's manifest writer starts with the first change rclone reports: a run that changes
    // nothing starts none, and one that does has it ready when its manifest is.
    let writer: ManifestWriter | undefined;
    let previous: Promise<RunManifest | undefined> | undefined;
    const changed = () => {
      writer ??= startManifestWriter(context.rclone, context.remote, context.runId, plan.name);
      // Read while rclone works: the manifest is made from it.
      previous ??= context.cache.latest(plan.name);
    };
    // Where times are exact, each file rclone reports sent is hashed while it still runs, four at
    // a time (see stateOfSent): the manifest is ready sooner after the transfer.
    const early = new Map<string, Promise<FileState | undefined>>();
    const queued: Array<() => void> = [];
    let hashing = 0;
    const hashEarly = (file: string) => {
      const listed = context.exactTimes && !emptyBefore ? source?.[file] : undefined;
      if (!listed || early.has(file)) return;
      early.set(
        file,
        new Promise((resolve) => {
          const start = () => {
            hashing++;
            void stateOfSent(plan.localDir, file, listed)
              .catch(() => undefined)
              .then((state) => {
                hashing--;
                queued.shift()?.();
                resolve(state);
              });
          };
          if (hashing < 4) start();
          else queued.push(start);
        }),
      );
    };
    const seeing: Partial<MappingHooks> = {
      passFolder,
      sent: (file) => (sent.add(file), changed(), hashEarly(file), hooks.sent?.(file)),
      touched: (file) => (touched.add(file), changed(), hooks.touched?.(file)),
      removed: (file) => (removed.add(file), changed(), hooks.removed?.(file)),
      displaced: (file) => (displaced.add(file), changed(), hooks.displaced?.(file)),
      listedSource: (record) => ((source = record), hooks.listedSource?.(record)),
      recordedMtime: async (file) => (await (previous ??= context.cache.latest(plan.name)))?.files?.[file]?.mtime,
      storedCopies,
    };
    let recorded: RecordOutcome;
    let result: TransferResult;
    try {
      result = await transfer(plan, { ...hooks, ...seeing });
      // A file moved into the run's folder and not sent after (deleted here meanwhile) has left the mirror.
      for (const file of displaced) if (!sent.has(file)) removed.add(file);
      recorded = await recordRun(context, plan, result, { afterUnrecorded: wasChanging, emptyBefore, mirrorWasEmpty, sent, touched, removed, passFolders, source, previous, early, storedCopies }, writer);
    } finally {
      writer?.stop();
    }
    const { problem, keptBytes, keptFiles, wrote, sentBytes } = recorded;
    // Finished, and recorded (or nothing to record): the mirror is what the newest manifest says.
    if (!problem && (result.status === 'ok' || result.status === 'partial' || result.status === 'refused') && !wasChanging) await context.cache.markChanging(plan.name, false);
    else if (wrote) await context.cache.markChanging(plan.name, false);
    if (wrote) context.recorded.push(plan.name);
    // rclone counts the moves into the run's folder as bytes sent (and on S3, where a move is a
    // copy and a delete, as transfers and deletes too): the figures are of the user's files.
    const stats = result.stats && sentBytes !== undefined ? { ...result.stats, bytes: sentBytes, transfers: result.copied, deletes: result.deleted } : result.stats;
    const exact = { ...result, ...(stats ? { stats } : {}), ...(keptFiles ? { kept: { files: keptFiles, bytes: keptBytes ?? 0 } } : {}) };
    return problem ? { ...exact, status: 'failed', reason: `the files were copied, but ${problem}` } : exact;
  };
}

/**
 * After a backup or upload in which every mapping finished and some wrote a run: apply poof.conf's
 * `keep`, so history does not grow forever. Never after a failed run (a prune then could remove
 * the last good versions while the mirror holds a broken state), never when nothing changed.
 */
export async function pruneAfterRun(
  ctx: Context,
  setup: RunSetup,
  remote: ResolvedRemote,
  rclone: Rclone,
  history: HistoryRun | undefined,
  outcome: RunAllOutcome<TransferResult>,
  cancelSignal: AbortSignal,
): Promise<{ plans: MappingPrune[] } | { error: string } | undefined> {
  const finished = outcome.notRun.length === 0 && outcome.results.every((r) => r.status === 'ok');
  if (!history || history.recorded.length === 0 || !finished || cancelSignal.aborted) return undefined;
  try {
    const due = await dueForPrune(history.cache, history.recorded, setup.config.keep ?? DEFAULT_KEEP);
    if (due.length === 0) return undefined;
    return { plans: await pruneHistory(ctx, setup, remote, rclone, { only: due, dryRun: false, cancelSignal }) };
  } catch (error) {
    return { error: `the prune after the run failed (${(error as Error).message}); the next run tries again` };
  }
}

/**
 * The mappings whose prune would forget a run: by the runs this machine knows, some run is no
 * longer kept. Only those are pruned after a run; the rest ask the remote nothing. Keeping every
 * known run means keeping every run among fewer, so a run written elsewhere can only delay a
 * prune to the next one that is due (or `poof prune`), never make this one remove too much.
 */
export async function dueForPrune(cache: ManifestCache, names: string[], policy: KeepPolicy): Promise<string[]> {
  const due: string[] = [];
  for (const name of names) {
    const ids = await cache.runIdsOf(name);
    if (selectKept(ids, policy).size < ids.length) due.push(name);
  }
  return due;
}
