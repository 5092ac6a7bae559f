import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildLocalListArgs, buildSyncArgs, STAGING_NAME, type SyncArgsInput } from '../rclone/args.js';
import { walkLocalTree } from '../fs/local-tree.js';
import { readFeatures } from '../rclone/features.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import type { MappingPlan } from './plan.js';
import { refusedTransfer, sumStats, withStats, type TransferResult } from './result.js';
import { anotherPass, runMapping, runMappingRetryingChanged, type MappingHooks } from './run-mapping.js';
import { afterClearing, clearTypeClashes, failedOnClash, hasFolders, mayClash, mustClearFirst, NONE } from './type-clash.js';
import { compareWithSent, recordFromListing, unseenEntry, type ChangeDetection, type SentRecord } from './sent-record.js';
import { copyDict } from '../dict.js';
import { lookAtStoredCopy, type StoredCopy } from '../fs/stored-copy.js';

/** Where a mapping's record of what was sent is kept (per local directory and remote path). */
export interface SentStore {
  read(plan: MappingPlan): Promise<SentRecord | undefined>;
  write(plan: MappingPlan, record: SentRecord): Promise<void>;
}

/** How the storage shows changes (modification times, hashes), asked once per run or cached. */
export async function detectChanges(rclone: Rclone, remote: ResolvedRemote, cancelSignal: AbortSignal, cacheFile?: string): Promise<ChangeDetection> {
  // Unknown: trust rclone's own comparison; the transfer itself will say if the remote is unreachable.
  return (await readFeatures(rclone, remote.configFile, remote.root, { cancelSignal, cacheFile })) ?? { modTime: true, hashes: [], sizeOnly: false };
}

/** Pure: does this storage need poof's record to see every change? */
export function needsSentRecord(detection: ChangeDetection, remote: ResolvedRemote): boolean {
  return detection.sizeOnly || remote.keepsModes;
}

/**
 * The local tree just before a transfer. Walked by poof itself where that is exactly what rclone
 * would list (no excludes of the user's, links followed or skipped: ~4x faster), else listed by
 * rclone with the transfer's own filters.
 */
async function listSource(rclone: Rclone, input: SyncArgsInput, cancelSignal: AbortSignal | undefined, withModes: boolean): Promise<SentRecord | undefined> {
  const symlinks = input.symlinks ?? 'follow';
  if ((input.excludes ?? []).length === 0 && symlinks !== 'links' && !input.filesFrom && !input.excludeFrom) {
    const walked = await walkLocalTree(input.source, { followLinks: symlinks === 'follow', skipTop: STAGING_NAME, cancelSignal, modes: withModes });
    if (walked) return walked;
  }
  const listed = await rclone.run(buildLocalListArgs(input), { timeoutMs: 30 * 60_000, cancelSignal });
  return listed.exitCode === 0 ? recordFromListing(listed.stdout, withModes) : undefined;
}

/**
 * A backup (or upload copy) that never misses a change the storage cannot show: before the
 * usual transfer, files whose size, time or mode differ from what the last successful run sent
 * are sent again (--ignore-times); after it, the record is replaced by the tree as it was listed
 * before the transfer, so a file that changed meanwhile is caught next time. A record rather
 * than --ignore-times for everything: re-sending every file every run costs the whole tree.
 */
export async function runWithSentRecord(
  rclone: Rclone,
  plan: MappingPlan,
  hooks: MappingHooks,
  store: SentStore,
  storage: SentStorage,
): Promise<TransferResult> {
  if (plan.refusal || !plan.syncInput || hooks.dryRun) return runMappingRetryingChanged(rclone, plan, hooks);
  const mirror = storage.withModes && !storage.sizeOnly && plan.syncInput.symlinks !== 'links' ? storage.mirrorOnDisk?.(plan.name) : undefined;
  if (mirror) return runWithSentRecordAlongside(rclone, plan, hooks, store, storage, mirror);
  const now = await listSource(rclone, plan.syncInput, hooks.cancelSignal, storage.withModes);
  if (now) hooks.listedSource?.(now);
  const sent = now ? await store.read(plan) : undefined;
  // No record yet: where rclone can compare only sizes, nothing sent before can be trusted; where
  // it compares times or hashes, only a mode changed before the record began can be missed.
  const compared = now && sent ? compareWithSent(now, sent, storage.precisionNs) : undefined;
  const changed = !now ? [] : compared ? compared.changed : storage.sizeOnly ? Object.keys(now).sort() : [];
  // A file where the last run sent a folder, or the reverse (or storage where such a write does
  // harm, or no record to tell on storage with folders): cleared before anything is written.
  const history = plan.syncInput.backupDir !== undefined;
  const clearFirst = (now && (sent ? mayClash(now, sent) : hasFolders(plan.syncInput))) || mustClearFirst(plan.syncInput);
  const clearedFirst = clearFirst ? await clearTypeClashes(rclone, plan, hooks) : NONE;
  if (clearedFirst.refused) return { ...refusedTransfer(plan, `${clearedFirst.refused}; the backup did not run`), status: 'failed' };
  // Looked for, by the record or by listing: the passes below need not look again.
  if (clearFirst || (now && sent)) {
    const next = afterClearing(plan, clearedFirst.files);
    plan = { ...next, syncInput: next.syncInput ?? plan.syncInput, clashesCleared: true };
  }
  let forced: SentAgain | undefined;
  if (changed.length > 0) {
    forced = await sendAgain(rclone, plan, hooks, changed, buildSyncArgs);
    // A name that is a file here and a folder on the remote (or the reverse): cleared, then sent
    // again, in a pass of its own (the first may have replaced some files already). Sent again
    // even when nothing is left to clear: rclone's WebDAV removes the empty folder a failed write
    // met, and the second write succeeds.
    const ownFolder = !history || hooks.passFolder !== undefined;
    if (forced.status === 'failed' && failedOnClash(forced.rcloneExit) && !forced.changing?.only && ownFolder && !hooks.cancelSignal.aborted) {
      const cleared = await clearTypeClashes(rclone, plan, hooks);
      if (!hooks.cancelSignal.aborted) {
        const first = forced;
        const second = await sendAgain(rclone, plan, hooks, changed, (input) => anotherPass(plan, hooks, { filesFrom: input.filesFrom, ignoreTimes: true }));
        forced = { ...second, copied: first.copied + second.copied, deleted: first.deleted + cleared.files + second.deleted, durationMs: first.durationMs + second.durationMs };
      }
    }
    // Files that keep changing are the main run's to retry and report; anything else stops here.
    if (forced.status !== 'ok' && !forced.changing?.only) {
      const { changing: _changing, ...result } = forced;
      return { ...result, reason: `sending ${changed.length} changed files again failed: ${forced.reason ?? ''}` };
    }
  }
  // After a re-send, the main pass moves what it replaces into a folder of its own.
  const sentByMain = new Set<string>();
  const main = await runMappingRetryingChanged(rclone, forced && history ? { ...plan, args: anotherPass(plan, hooks, {}) } : plan, { ...hooks, sent: (file) => (sentByMain.add(file), hooks.sent?.(file)) });
  if (now && (main.status === 'ok' || main.status === 'partial')) {
    // What was not copied must not count as sent; a file sent that the walk did not see (made
    // after it) is recorded as unseen, so its next walk sends it again as it is then. A record
    // the same as the last is not written again (100,000 files: 60 ms).
    const unsent = main.unreadable ?? [];
    const unseen = [...sentByMain].filter((file) => !Object.hasOwn(now, file));
    const record = unsent.length > 0 || unseen.length > 0 ? copyDict(now) : now;
    for (const file of unsent) delete record[file];
    for (const file of unseen) record[file] = unseenEntry(storage.withModes);
    if (!compared?.same || unsent.length > 0 || unseen.length > 0) await store.write(plan, record);
  }
  if (!forced) return { ...main, deleted: main.deleted + clearedFirst.files };
  const { changing: _changing, ...sentAgain } = forced;
  return { ...main, errors: [...sentAgain.errors, ...main.errors].slice(0, 20), copied: main.copied + sentAgain.copied, deleted: main.deleted + clearedFirst.files + sentAgain.deleted, durationMs: main.durationMs + sentAgain.durationMs, ...withStats(sumStats([sentAgain.stats, main.stats])) };
}

/** How the storage shows changes, and whether the walk may run beside the transfer. */
export interface SentStorage {
  withModes: boolean;
  sizeOnly: boolean;
  precisionNs?: number | undefined;
  /**
   * Where a mapping's mirror is on this machine's disk (a local-directory "cloud"), if it is:
   * where the record guards modes only (rclone sees every other change itself), the walk then
   * runs while rclone transfers instead of before it, and stored modes are read from there.
   */
  mirrorOnDisk?: ((name: string) => string | undefined) | undefined;
}

type SentAgain = TransferResult & { changing?: { only: boolean; files: string[] } };

/** One pass sending exactly `files` again, whatever their size and time (--ignore-times). */
async function sendAgain(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks, files: string[], argsFor: (input: SyncArgsInput) => string[]): Promise<SentAgain> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'poof-sent-'));
  try {
    const filesFrom = path.join(scratch, 'changed.list');
    await writeFile(filesFrom, `${files.join('\n')}\n`);
    return await runMapping(rclone, { ...plan, args: argsFor({ ...plan.syncInput!, filesFrom, ignoreTimes: true }) }, hooks);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * runWithSentRecord with the walk beside the transfer, not before it: a run that changes nothing
 * waits for the longer of the two, not their sum. The walk may see a file before or after rclone
 * sends it, so what it saw is recorded only where the stored copy (in the mirror on this
 * machine's disk) has the mode the walk saw: for every file rclone sent, every file whose mode
 * changed since the record and every file the record does not hold. Where the stored mode
 * differs, the file is sent again after the transfer, in a pass of its own, and looked at once
 * more; a file that still differs, or has no stored copy, is left out of the record, so the next
 * run looks at it again. Files the record holds unchanged, and rclone did not send, are stored
 * as recorded. The walk is not offered as the listing just before the transfer (listedSource):
 * it is not one.
 */
async function runWithSentRecordAlongside(rclone: Rclone, plan: MappingPlan, hooks: MappingHooks, store: SentStore, storage: SentStorage, mirror: string): Promise<TransferResult> {
  const input = plan.syncInput!;
  const sentByMain = new Set<string>();
  // The walk starts once rclone has: its batches of synchronous reads would otherwise hold up
  // the steps that start rclone (a no-change run then waited for the sum after all).
  let started!: () => void;
  const spawned = new Promise<void>((resolve) => (started = resolve));
  // Each stored copy is looked at as rclone reports it sent (rclone has finished it then), while
  // the transfer still runs, rather than all of them after it; again when a later pass of the
  // transfer sets its time, and forgotten when one takes it out of the mirror.
  const stored = hooks.storedCopies ?? new Map<string, StoredCopy | undefined>();
  const look = (file: string) => {
    const info = lookAtStoredCopy(`${mirror}/${file}`);
    stored.set(file, info);
    return info;
  };
  const running = runMappingRetryingChanged(rclone, plan, {
    ...hooks,
    sent: (file) => (sentByMain.add(file), look(file), hooks.sent?.(file)),
    touched: (file) => (look(file), hooks.touched?.(file)),
    removed: (file) => (stored.delete(file), hooks.removed?.(file)),
    spawned: () => (started(), hooks.spawned?.()),
  });
  const walking = Promise.race([spawned, running]).then(() => listSource(rclone, input, hooks.cancelSignal, storage.withModes)).catch(() => undefined);
  // The record of what was sent, read and compared with the walk while rclone still works (only
  // this function writes it, after the transfer): a run that changed nothing is done when rclone is.
  const comparing = walking.then(async (walked) => {
    const sent = walked ? await store.read(plan) : undefined;
    return sent && walked ? compareWithSent(walked, sent, storage.precisionNs) : undefined;
  });
  // Awaited below only when the transfer finished; a failed read must not go unhandled before that.
  comparing.catch(() => undefined);
  const main = await running;
  const now = await walking;
  if (!now || (main.status !== 'ok' && main.status !== 'partial')) return main;
  const compared = await comparing;
  const unsent = new Set(main.unreadable ?? []);
  const toLook = new Set([...sentByMain, ...(compared ? [...compared.changed, ...compared.unknown] : Object.keys(now))]);
  const modeOf = (file: string, fresh: boolean) => storedMode(fresh || !stored.has(file) ? look(file) : stored.get(file));
  const differs = (file: string) => modeOf(file, true) !== now[file]![2];
  const resend: string[] = [];
  const drop = new Set<string>();
  for (const file of toLook) {
    if (!Object.hasOwn(now, file) || unsent.has(file)) continue;
    const mode = modeOf(file, false);
    if (mode === undefined) drop.add(file);
    else if (mode !== now[file]![2]) resend.push(file);
  }
  let forced: SentAgain | undefined;
  if (resend.length > 0) {
    forced = await sendAgain(rclone, plan, hooks, resend.sort(), (extra) => anotherPass(plan, hooks, extra));
    if (forced.status !== 'ok' && !forced.changing?.only) {
      const { changing: _changing, ...result } = forced;
      return { ...result, copied: main.copied + result.copied, deleted: main.deleted, reason: `sending ${resend.length} changed files again failed: ${forced.reason ?? ''}` };
    }
    for (const file of forced.changing?.files ?? []) unsent.add(file);
    for (const file of resend) if (!unsent.has(file) && differs(file)) drop.add(file);
  }
  const record = unsent.size > 0 || drop.size > 0 ? copyDict(now) : now;
  for (const file of [...unsent, ...drop]) delete record[file];
  if (!compared?.same || unsent.size > 0 || drop.size > 0) await store.write(plan, record);
  if (!forced) return main;
  const { changing: _changing, ...sentAgain } = forced;
  const unreadable = [...unsent].sort();
  return {
    ...main,
    ...(unreadable.length > 0 ? { status: 'partial' as const, unreadable, reason: main.reason ?? `${unreadable.length} files kept changing while they were read` } : {}),
    errors: [...main.errors, ...sentAgain.errors].slice(0, 20),
    copied: main.copied + sentAgain.copied,
    durationMs: main.durationMs + sentAgain.durationMs,
    ...withStats(sumStats([main.stats, sentAgain.stats])),
  };
}

/** The mode of a stored copy as rclone prints modes ("100644"); undefined when it is not a plain file. */
function storedMode(info: StoredCopy | undefined): string | undefined {
  return info ? (info.mode & 0o177777n).toString(8) : undefined;
}
