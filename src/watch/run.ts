import path from 'node:path';
import { ChangeQueue, type WatchTiming } from './queue.js';
import type { Subscription, Watcher, WatchEvent } from './watcher.js';

/** One watched mapping. */
export interface WatchTarget {
  name: string;
  localDir: string;
  /** Where it is watched: its real path (a mapped folder may be a link; events name real paths). */
  watchDir: string;
}

export type PathState = { kind: 'file' | 'directory' | 'link' | 'other'; size: number; mtimeMs: number } | { kind: 'missing' };

/** What a copy or a full backup came to. */
export type WorkOutcome =
  /** `needsFull`: something only a full backup carries over was seen (a link to a folder). */
  | { ok: true; copied: number; needsFull?: boolean }
  /** `locked`: another run held the lock; `hold`: trying again could delete more (a delete limit tripped). */
  | { ok: false; reason: string; locked?: boolean; hold?: boolean };

/** What watch tells its user: the command renders it (a live line on a terminal, plain lines otherwise). */
export type WatchReport =
  | { kind: 'watching'; names: string[] }
  | { kind: 'unwatched'; name: string; reason: string; advice?: string | undefined; everyMs: number }
  | { kind: 'copied'; name: string; files: number; at: number }
  | { kind: 'backed-up'; name: string; copied: number; at: number }
  | { kind: 'failed'; name: string; reason: string; full: boolean; retryInMs: number; held?: boolean }
  | { kind: 'rewatched'; name: string }
  | { kind: 'waiting'; holder: string }
  | { kind: 'queue'; waiting: number }
  | { kind: 'stopped'; reason: string };

/** The side effects of watch, swapped by tests (no module mocking). */
export interface WatchAdapters {
  watcher: Watcher;
  now(): number;
  /** What is at a path now (links are not followed). */
  stat(file: string): Promise<PathState>;
  /** Every file (and link) below a directory, relative to it (a folder created or moved in whole). */
  walk(dir: string): Promise<string[]>;
  /** What a watched folder is now (device and inode), or undefined when it is not there. */
  identity(dir: string): Promise<string | undefined>;
  /** Where a mapped folder really is now (it may be a link, retargeted since). */
  realDir(dir: string): Promise<string>;
  /** Why watch must stop now (its config files changed since it started), or undefined. */
  stale(): Promise<string | undefined>;
  /** The lock for one batch, or who holds it. */
  lock(): Promise<{ release(): Promise<void> } | { heldBy: string }>;
  /**
   * Copy exactly these files of one mapping (under the lock): one `rclone copy` with a filter
   * naming them. None:
   * each batch is a full backup instead (an append-only vault is only added to by its own runs).
   */
  copy?: ((target: WatchTarget, files: string[], signal: AbortSignal) => Promise<WorkOutcome>) | undefined;
  /** A full backup of these mappings, with its own lock and run record (`poof backup --only ...`). */
  backup(names: string[], signal: AbortSignal): Promise<Map<string, WorkOutcome>>;
  /**
   * The storage removes a folder's files when a file written over it fails (rclone's WebDAV
   * removes what a failed upload left): a file whose name, or a name above or below it, was
   * deleted since the last full backup goes with the next full backup, which clears the name first.
   */
  replacingGoesFull?: boolean;
  /** Resolves after `ms`, or as soon as `wake` is called or the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  wake(): void;
  report(report: WatchReport): void;
}

/** Per mapping, what watch did: the run record's figures. */
export interface WatchTotals {
  copied: number;
  batches: number;
  backups: number;
  /** Why the last batch or backup failed, while it has not succeeded since. */
  failing?: string;
}

/** A mapping whose tree cannot be watched is backed up in full this often instead. */
export const UNWATCHED_EVERY_MS = 5 * 60_000;
/** How long watch waits before asking again for a lock another run holds. */
const LOCKED_WAIT_MS = 2_000;

/** Pure: every watched mapping a path is in (nested mappings each get it), and the path relative to each. */
export function routeEvent(targets: WatchTarget[], file: string): Array<{ name: string; rel: string }> {
  return targets.filter((target) => file.startsWith(`${target.watchDir}/`)).map((target) => ({ name: target.name, rel: file.slice(target.watchDir.length + 1) }));
}

/**
 * `poof watch`'s loop: watch every mapped tree, queue what changes, and copy each mapping's
 * changed files by list once it is quiet (under the lock, one batch at a time); hand deletions,
 * renames and anything missed to a full backup at a calm moment and periodically. Runs until
 * the signal aborts; the current copy is stopped with it. Returns each mapping's totals.
 */
export async function watchLoop(targets: WatchTarget[], timing: WatchTiming, adapters: WatchAdapters, signal: AbortSignal): Promise<Map<string, WatchTotals>> {
  const queue = new ChangeQueue(
    targets.map((t) => t.name),
    timing,
  );
  const totals = new Map(targets.map((t) => [t.name, { copied: 0, batches: 0, backups: 0 } as WatchTotals]));
  const byName = new Map(targets.map((t) => [t.name, t]));
  const events: WatchEvent[] = [];
  /** Files last seen still being written, with what they were then: unchanged at the next look is settled. */
  const looked = new Map<string, string>();
  /** Per mapping, names deleted since its last full backup began (with replacingGoesFull). */
  const deleted = new Map<string, Set<string>>();

  /** Each mapping's watch, and the folder it watches as it was then (device and inode). */
  const watching = new Map<string, { subscription?: Subscription; identity?: string }>();
  const subscribe = async (target: WatchTarget, quiet: boolean): Promise<void> => {
    const identity = await adapters.identity(target.watchDir);
    try {
      const subscription = await adapters.watcher.subscribe(
        target.watchDir,
        (found) => {
          events.push(...found);
          adapters.wake();
        },
        // The watcher lost events (its queue overflowed, the tree went away): a full backup finds them.
        () => {
          queue.needsFull(target.name, adapters.now());
          adapters.wake();
        },
      );
      watching.set(target.name, { subscription, ...(identity ? { identity } : {}) });
      queue.fullEvery(target.name, timing.fullSyncMs);
    } catch (error) {
      watching.set(target.name, identity ? { identity } : {});
      const everyMs = Math.min(UNWATCHED_EVERY_MS, timing.fullSyncMs);
      queue.fullEvery(target.name, everyMs);
      if (!quiet) adapters.report({ kind: 'unwatched', name: target.name, reason: (error as Error).message, everyMs });
    }
  };
  for (const target of targets) await subscribe(target, false);
  /**
   * A folder unmounted and mounted again, or removed and made again, is another folder: its
   * watch sees nothing any more. Looked at whenever the loop wakes (at least once a minute):
   * watched again, with a full backup for what changed meanwhile.
   */
  /** Mappings whose watch must be made anew (the folder itself moved, folders created inside). */
  const renew = new Set<string>();
  /** Folders created or moved in since the mapping's watch was made: walked again after it is renewed. */
  const created = new Map<string, Set<string>>();
  const rewatch = async () => {
    for (const target of targets) {
      const known = watching.get(target.name);
      // A mapped folder that is a link may point elsewhere now.
      const real = await adapters.realDir(target.localDir);
      const moved = real !== target.watchDir;
      target.watchDir = real;
      const now = await adapters.identity(target.watchDir);
      if (now === known?.identity && !moved && !renew.has(target.name)) continue;
      const wasRenewed = renew.delete(target.name) && now === known?.identity && !moved;
      if (now === undefined) {
        await known?.subscription?.unsubscribe().catch(() => undefined);
        queue.needsFull(target.name, adapters.now());
        watching.set(target.name, {});
        continue;
      }
      // The old watch ends first: @parcel/watcher shares one inotify watch per folder between
      // subscriptions, and ending the old one after would end the new one's too. What changes in
      // between is found by a full backup once calm; what is in the new folders, by walking them.
      await known?.subscription?.unsubscribe().catch(() => undefined);
      await subscribe(target, true);
      queue.needsFull(target.name, adapters.now());
      if (wasRenewed) {
        for (const rel of created.get(target.name) ?? []) for (const file of await adapters.walk(path.join(target.watchDir, rel))) queue.changed(target.name, `${rel}/${file}`, adapters.now());
      } else if (watching.get(target.name)?.subscription) adapters.report({ kind: 'rewatched', name: target.name });
      created.delete(target.name);
    }
  };
  adapters.report({ kind: 'watching', names: targets.map((t) => t.name) });

  const take = async () => {
    for (const event of events.splice(0)) {
      // The mapped folder itself moved (and maybe back): its watch ended with it.
      for (const target of targets) if (event.path === target.watchDir) renew.add(target.name);
      // A name that is not UTF-8 reaches here mangled: only the full backup can copy it.
      if (event.path.includes('\uFFFD')) for (const target of targets) if (event.path.startsWith(`${target.watchDir}/`)) queue.needsFull(target.name, adapters.now());
      const routes = routeEvent(targets, event.path);
      if (routes.length === 0) continue;
      const now = adapters.now();
      if (event.type === 'delete') {
        for (const routed of routes) {
          queue.needsFull(routed.name, now);
          if (adapters.replacingGoesFull) deleted.set(routed.name, (deleted.get(routed.name) ?? new Set()).add(routed.rel));
        }
        continue;
      }
      const state = await adapters.stat(event.path);
      // A folder created or moved in whole: its files come with one event for the folder. (Moved
      // from elsewhere in the mapping: the old name's deletion event brings the full backup.)
      // Pipes, sockets and devices are never copied: rclone would block reading a pipe.
      const inside = state.kind === 'directory' ? await adapters.walk(event.path) : state.kind === 'file' || state.kind === 'link' ? [''] : [];
      for (const routed of routes) for (const rel of inside) queue.changed(routed.name, rel === '' ? routed.rel : `${routed.rel}/${rel}`, now);
      // The watcher adds a watch for a new folder, not for the folders inside it (@parcel/watcher
      // on Linux), and a renamed folder's inner watches keep the old names: the mapping's watch
      // is made anew before the next batch, and the new folder walked again after that.
      if (state.kind === 'directory') {
        for (const routed of routes) {
          renew.add(routed.name);
          created.set(routed.name, new Set([...(created.get(routed.name) ?? []), routed.rel]));
        }
      }
    }
  };

  try {
    while (!signal.aborted) {
      const stale = await adapters.stale();
      if (stale) {
        adapters.report({ kind: 'stopped', reason: stale });
        break;
      }
      await take();
      await rewatch();
      const now = adapters.now();
      const due = queue.take(now);
      if (!adapters.copy) {
        for (const batch of due.batches.splice(0)) if (!due.fullSyncs.includes(batch.name)) due.fullSyncs.push(batch.name);
      }
      if (due.batches.length > 0) {
        const lock = await adapters.lock();
        if ('heldBy' in lock) {
          for (const batch of due.batches) queue.putBack(batch.name, batch.files, now);
          for (const name of due.fullSyncs) queue.needsFull(name, now - timing.calmMs);
          adapters.report({ kind: 'waiting', holder: lock.heldBy });
          await adapters.sleep(LOCKED_WAIT_MS, signal);
          continue;
        }
        try {
          for (const batch of due.batches) {
            if (signal.aborted) {
              queue.putBack(batch.name, batch.files, now);
              continue;
            }
            await copyBatch(byName.get(batch.name)!, batch.files);
          }
        } finally {
          await lock.release();
        }
      }
      if (due.fullSyncs.length > 0 && !signal.aborted) {
        // Deletions from here on are the next full backup's: the names this one clears are its own.
        const clearing = new Map(due.fullSyncs.map((name) => [name, deleted.get(name)]));
        for (const name of due.fullSyncs) deleted.delete(name);
        const outcomes = await adapters.backup(due.fullSyncs, signal);
        for (const name of due.fullSyncs) {
          const outcome = outcomes.get(name) ?? { ok: false as const, reason: 'not run' };
          const at = adapters.now();
          const total = totals.get(name)!;
          if (!outcome.ok) for (const rel of clearing.get(name) ?? []) deleted.set(name, (deleted.get(name) ?? new Set()).add(rel));
          if (outcome.ok) {
            queue.succeeded(name, at, true);
            total.backups++;
            delete total.failing;
            adapters.report({ kind: 'backed-up', name, copied: outcome.copied, at });
          } else if (!signal.aborted) {
            total.failing = outcome.reason;
            // A delete limit tripped: rclone deleted up to it, and each try would delete as many again.
            if (outcome.hold) {
              queue.hold(name);
              adapters.report({ kind: 'failed', name, reason: outcome.reason, full: true, retryInMs: 0, held: true });
              continue;
            }
            queue.failed(name, at, { full: true }, outcome.locked === true);
            adapters.report({ kind: 'failed', name, reason: outcome.reason, full: true, retryInMs: queue.retryIn(name, at) });
          }
        }
      }
      adapters.report({ kind: 'queue', waiting: queue.waiting() });
      if (events.length === 0 && !signal.aborted) await adapters.sleep(queue.nextDueIn(adapters.now()), signal);
    }
  } finally {
    await Promise.all([...watching.values()].map((w) => w.subscription?.unsubscribe().catch(() => undefined)));
  }
  return totals;

  async function copyBatch(target: WatchTarget, files: string[]): Promise<void> {
    const now = adapters.now();
    const ready: string[] = [];
    const changing: string[] = [];
    const gone = deleted.get(target.name);
    for (const rel of files) {
      // A file where something was deleted, above it or below it (a folder made a file, or a
      // file a folder; the watcher may report only the files): the full backup's.
      if (gone && [...gone].some((name) => name === rel || rel.startsWith(`${name}/`) || name.startsWith(`${rel}/`))) {
        queue.needsFull(target.name, now);
        continue;
      }
      const state = await adapters.stat(path.join(target.watchDir, rel));
      const key = `${target.name}\0${rel}`;
      if (state.kind !== 'file' && state.kind !== 'link') {
        // Gone (or no file any more) while it was being written: nothing to remember it by.
        looked.delete(key);
        continue;
      }
      // Written to within the quiet time: wait, unless it looks as it did the last time (a time in the future).
      const seen = `${state.size}:${state.mtimeMs}`;
      if (state.mtimeMs > now - timing.quietMs && looked.get(key) !== seen) {
        looked.set(key, seen);
        changing.push(rel);
        continue;
      }
      looked.delete(key);
      ready.push(rel);
    }
    if (changing.length > 0) queue.putBack(target.name, changing, now);
    if (ready.length === 0) return;
    const outcome = await adapters.copy!(target, ready, signal);
    const at = adapters.now();
    const total = totals.get(target.name)!;
    if (outcome.ok) {
      queue.succeeded(target.name, at, false);
      if (outcome.needsFull) queue.needsFull(target.name, at);
      total.copied += outcome.copied;
      total.batches++;
      delete total.failing;
      adapters.report({ kind: 'copied', name: target.name, files: outcome.copied, at });
    } else {
      queue.failed(target.name, at, { files: ready });
      if (signal.aborted) return;
      total.failing = outcome.reason;
      adapters.report({ kind: 'failed', name: target.name, reason: outcome.reason, full: false, retryInMs: queue.retryIn(target.name, at) });
    }
  }
}
