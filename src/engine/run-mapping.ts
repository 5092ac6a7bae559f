import type { StoredCopy } from '../fs/stored-copy.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSyncArgs, exactFilterLine, type SyncArgsInput } from '../rclone/args.js';
import { classifyRcloneFailure } from '../rclone/exit-codes.js';
import { dryRunAction, type RcloneStats } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import { runStreamed } from '../rclone/stream.js';
import type { MappingEvent } from './events.js';
import type { SentRecord } from './sent-record.js';
import type { MappingPlan } from './plan.js';
import { refusedTransfer, sumStats, withStats, type TransferResult } from './result.js';
import { afterClearing, clearTypeClashes, failedOnClash, looksBeforeWriting, NONE } from './type-clash.js';

export interface MappingHooks {
  emit: (event: MappingEvent) => void;
  /** Every raw stderr line of rclone, for the log file. */
  log: (line: string) => void;
  /** Aborting it stops rclone. */
  cancelSignal: AbortSignal;
  dryRun: boolean;
  /** Each file whose content rclone sent (not in a dry run). */
  sent?: ((file: string) => void) | undefined;
  /** Each file whose modification time rclone set without sending it (not in a dry run). */
  touched?: ((file: string) => void) | undefined;
  /**
   * Each file rclone took out of the mirror: deleted, or with history kept moved into the run's
   * folder without a replacement (not in a dry run). A file it then sent again is also `sent`.
   */
  removed?: ((file: string) => void) | undefined;
  /**
   * With history kept: a file rclone moved out of the mirror into the run's folder, to replace it
   * or delete it (a rename, or on S3 a copy and a delete). Unless it is sent after, the mirror no
   * longer has it (a file deleted here while the run replaced it).
   */
  displaced?: ((file: string) => void) | undefined;
  /** The local tree as listed just before the transfer, where a pass lists it (not in a dry run). */
  listedSource?: ((record: SentRecord) => void) | undefined;
  /**
   * With history kept: a fresh folder for another rclone pass over the same mapping in this run.
   * Two passes must never share one: the second would replace, in the folder, a version the first
   * moved there (a file changing during the run is replaced by both).
   */
  passFolder?: (() => string) | undefined;
  /** Called once the first rclone of the mapping has been started. */
  spawned?: (() => void) | undefined;
  /** The modification time (ms) the mirror's record holds for a file, where there is a record. */
  recordedMtime?: ((file: string) => Promise<number | undefined>) | undefined;
  /**
   * Where the mirror is on this machine's disk: each stored copy looked at after rclone stored
   * it, by path, filled by the transfer and read by the run's record, so each
   * copy is looked at once. A copy sent again is looked at anew.
   */
  storedCopies?: Map<string, StoredCopy | undefined> | undefined;
}

/**
 * Pure: the argv of another pass over a mapping (a retry, a re-send): the plan's, with `extra`,
 * into a folder of its own when history is kept.
 */
export function anotherPass(plan: MappingPlan, hooks: Pick<MappingHooks, 'passFolder'>, extra: Partial<SyncArgsInput>): string[] {
  const input = plan.syncInput!;
  return buildSyncArgs({ ...input, ...extra, ...(input.backupDir !== undefined && hooks.passFolder ? { backupDir: hooks.passFolder() } : {}) });
}

const MAX_KEPT_ERRORS = 20;
/** rclone 1.60: "can't copy - source file is being updated (size changed from A to B)". */
const CHANGING = /source file is being updated/;
/** The lines rclone adds after any failed copy; they say nothing of their own. */
const CONSEQUENCE = /^(not deleting (files|directories) as there were IO errors|Attempt \d+\/\d+ failed with)/;

/** What a failed transfer says about files that changed while read (a mailbox, a database). */
interface Changing {
  /** Files rclone could not read because they changed while it read them. */
  files: string[];
  /** Every error was about such files (or a consequence of them). */
  only: boolean;
}

/**
 * Run one planned rclone sync/copy; success only when rclone exits 0. Counts are of distinct
 * files rclone reported as copied or deleted (in a dry run: as it would copy or delete), so a
 * version that logs more lines per file cannot inflate them.
 */
export async function runMapping(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks): Promise<TransferResult & { changing?: Changing }> {
  if (plan.refusal) return refusedTransfer(plan, plan.refusal);
  const changing = new Set<string>();
  let otherErrors = false;
  const started = Date.now();
  let stats: RcloneStats | undefined;
  const copied = new Set<string>();
  const deleted = new Set<string>();
  const errors: string[] = [];
  const archiving = plan.syncInput?.backupDir !== undefined;
  hooks.log(`# ${new Date().toISOString()} ${plan.name}: rclone ${plan.args.join(' ')}`);
  const result = await runStreamed(rclone, plan.args, {
    cancelSignal: hooks.cancelSignal,
    stallMs: plan.stallMs,
    probeArgs: plan.probeArgs,
    onSpawn: hooks.spawned,
    onLine: hooks.log,
    onEvent: (event) => {
      if (event.kind === 'stats') {
        stats = event.stats;
        hooks.emit({ type: 'progress', name: plan.name, stats: event.stats });
      } else if (event.kind === 'file') {
        // Only files whose content was sent: not a time set on an identical file ("Updated
        // modification time"), not a directory's metadata.
        if (event.directory) return;
        if (archiving && !hooks.dryRun && (event.action === 'moved' || event.action === 'deleted')) hooks.displaced?.(event.object);
        if (event.action === 'copied') {
          copied.add(event.object);
          if (!hooks.dryRun) hooks.sent?.(event.object);
        }
        // With history kept, rclone's "Deleted" is the second half of a move into the run's
        // folder (S3); the user's deletions are what it moved there without a replacement.
        else if ((event.action === 'deleted' && !archiving) || event.action === 'archived') {
          deleted.add(event.object);
          if (!hooks.dryRun) hooks.removed?.(event.object);
        }
        else if (event.action === 'updated' && !hooks.dryRun) hooks.touched?.(event.object);
        else if (hooks.dryRun) {
          const action = dryRunAction(event.message);
          if (action === 'copy' || action === 'delete') {
            (action === 'copy' ? copied : deleted).add(event.object);
            hooks.emit({ type: 'planned', name: plan.name, action, object: event.object });
          }
        }
      } else if (event.kind === 'error') {
        // Without an object it is rclone's summary of the same failure ("Failed to sync: ...").
        if (CHANGING.test(event.message)) {
          if (event.object) changing.add(event.object);
        } else if (!CONSEQUENCE.test(event.message)) otherErrors = true;
        const line = event.object ? `${event.object}: ${event.message}` : event.message;
        if (errors.length < MAX_KEPT_ERRORS) errors.push(line);
        hooks.emit({ type: 'rclone-error', name: plan.name, message: line });
      }
    },
  });
  const base = { name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath };
  const common = { ...base, rcloneExit: result.exitCode, copied: copied.size, deleted: deleted.size, errors, durationMs: Date.now() - started, ...(stats ? { stats } : {}) };
  if (result.exitCode === 0) return { ...common, status: 'ok' };
  const changed = changing.size > 0 ? { changing: { files: [...changing].sort(), only: !otherErrors } } : {};
  const failure = classifyRcloneFailure(result.exitCode, result.stderr);
  const reason = result.cancelled
    ? 'interrupted: rclone was stopped before it finished'
    : result.stalled
      ? `the remote stopped answering (${result.stalled.message}); poof stopped rclone after ${result.stalled.seconds} s without progress rather than retry every file`
      : result.signal
        ? `rclone was stopped by ${result.signal}`
        : `rclone exited ${result.exitCode}: ${failure.meaning}`;
  return { ...common, ...changed, status: 'failed', reason, ...(result.stalled && !result.cancelled ? { remoteGone: true } : {}), ...(failure.advice && !result.cancelled && !result.stalled && !result.signal ? { advice: failure.advice } : {}) };
}

/**
 * Run one mapping; when it failed only because files kept changing while rclone read them (a
 * mailbox, a browser profile, a database being written), run it again without those files, so
 * everything else is copied and deletions happen, then try those files once more. Files that
 * still change are listed and the mapping is "partial": a schedule can tell that from a failure.
 */
export async function runMappingRetryingChanged(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks): Promise<TransferResult> {
  const first = await runMappingRetryingOnce(rclone, plan, hooks);
  const { changing, ...firstResult } = first;
  if (first.status !== 'failed' || !changing?.only || !plan.syncInput || hooks.dryRun || hooks.cancelSignal.aborted) return firstResult;
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-retry-'));
  try {
    const excludeFrom = path.join(scratch, 'changing.filter');
    await writeFile(excludeFrom, `${changing.files.map(exactFilterLine).join('\n')}\n`);
    const rest = await runMapping(rclone, { ...plan, args: anotherPass(plan, hooks, { excludeFrom }) }, hooks);
    if (rest.status !== 'ok') return withoutChanging(rest);
    const filesFrom = path.join(scratch, 'changing.list');
    await writeFile(filesFrom, `${changing.files.join('\n')}\n`);
    const retry = await runMapping(rclone, { ...plan, args: anotherPass(plan, hooks, { filesFrom }) }, hooks);
    const still = retry.status === 'ok' ? [] : retry.changing?.only ? retry.changing.files : undefined;
    if (still === undefined) return withoutChanging(retry);
    const combined: TransferResult = {
      ...withoutChanging(rest),
      ...withStats(sumStats([first.stats, rest.stats, retry.stats], [rest.stats, retry.stats])),
      copied: first.copied + rest.copied + retry.copied,
      deleted: first.deleted + rest.deleted,
      errors: [...first.errors, ...retry.errors].slice(0, MAX_KEPT_ERRORS),
      durationMs: first.durationMs + rest.durationMs + retry.durationMs,
    };
    if (still.length === 0) return combined;
    return {
      ...combined,
      status: 'partial',
      unreadable: still,
      reason: `${still.length} ${still.length === 1 ? 'file' : 'files'} kept changing while being read and ${still.length === 1 ? 'was' : 'were'} not copied this time: ${still.slice(0, 5).join(', ')}${still.length > 5 ? ', ...' : ''}`,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * With history kept rclone runs with --retries 1 (its retries would move a file into the same
 * folder twice), so poof retries once itself, into a folder of its own, as rclone would have:
 * after an error that a second attempt can cure (rclone 1.75 fails a sync whose stale .partial
 * file vanished under it). Not after a stop, a stall, a fatal error or files that kept changing.
 * A name that is a file here and a folder on the remote (or the reverse) is cleared first, and
 * then tried again with history off too.
 */
async function runMappingRetryingOnce(rclone: Rclone, given: MappingPlan, hooks: MappingHooks): Promise<TransferResult & { changing?: Changing }> {
  // Where a write over a clash does harm (or the server decides), it is cleared before the first write.
  const early = given.syncInput && looksBeforeWriting(given.syncInput) && !given.clashesCleared ? await clearTypeClashes(rclone, given, hooks) : NONE;
  if (early.refused) return { ...refusedTransfer(given, `${early.refused}; the backup did not run`), status: 'failed' };
  const plan = afterClearing(given, early.files);
  const first = withClearedFiles(await runMapping(rclone, plan, hooks), early.files);
  const failed = first.status === 'failed' && !first.changing?.only;
  const retryable = failed && (first.rcloneExit === 1 || first.rcloneExit === 5);
  if ((!retryable && !(failed && failedOnClash(first.rcloneExit))) || hooks.dryRun || hooks.cancelSignal.aborted) return first;
  // A name that is a file here and a folder on the remote (or the reverse) fails every sync
  // until the remote's side is out of the way.
  const cleared = failed && failedOnClash(first.rcloneExit) ? await clearTypeClashes(rclone, plan, hooks) : NONE;
  if (cleared.refused) return { ...first, reason: `${first.reason ?? 'rclone failed'}; ${cleared.refused}` };
  const history = plan.syncInput?.backupDir !== undefined;
  const ownFolder = history && hooks.passFolder !== undefined;
  if (history && !ownFolder) return first;
  if (!(retryable && ownFolder) && cleared.names === 0) return first;
  if (hooks.cancelSignal.aborted) return first;
  hooks.log(`# ${plan.name}: retrying once${ownFolder ? ' into a history folder of its own' : ''} after: ${first.reason ?? ''}`);
  // What the first pass and the clearing deleted counts against rclone.maxDelete.
  const again = afterClearing(plan, cleared.files + first.deleted - early.files);
  const second = await runMapping(rclone, ownFolder ? { ...again, args: anotherPass(again, hooks, {}) } : again, hooks);
  return {
    ...second,
    ...withStats(sumStats([first.stats, second.stats], [second.stats])),
    copied: first.copied + second.copied,
    deleted: first.deleted + cleared.files + second.deleted,
    errors: second.errors,
    durationMs: first.durationMs + second.durationMs,
  };
}

function withClearedFiles<T extends TransferResult>(result: T, files: number): T {
  return files === 0 ? result : { ...result, deleted: result.deleted + files };
}

function withoutChanging(result: TransferResult & { changing?: Changing }): TransferResult {
  const { changing: _changing, ...rest } = result;
  return rest;
}
