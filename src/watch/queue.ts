import type { PoofConfig } from '../config/schema.js';

/** How `poof watch` batches changes (poof.conf "watch"), in milliseconds. */
export interface WatchTiming {
  /** A mapping's changes are copied once it has had no new change this long. */
  quietMs: number;
  /** ...and at the latest this long after the first of them, even while more keep coming. */
  maxDelayMs: number;
  /** After a deletion or rename: the full backup of the mapping once it has been calm this long. */
  calmMs: number;
  /** A full backup of every watched mapping at least this often (deletions, missed events). */
  fullSyncMs: number;
}

export const DEFAULT_WATCH = { quietSeconds: 2, maxDelaySeconds: 30, calmSeconds: 60, fullSyncMinutes: 60 } as const;

/** Pure: poof.conf's "watch" (or the defaults) in milliseconds. */
export function watchTiming(config: Pick<PoofConfig, 'watch'>): WatchTiming {
  const w = { ...DEFAULT_WATCH, ...config.watch };
  return { quietMs: w.quietSeconds * 1000, maxDelayMs: w.maxDelaySeconds * 1000, calmMs: w.calmSeconds * 1000, fullSyncMs: w.fullSyncMinutes * 60_000 };
}

/** Beyond this many files waiting in one mapping, a full backup is cheaper than a list of them. */
export const MAX_LISTED = 5000;
/** A failed batch or backup is tried again after this, doubling up to the most. */
const RETRY_FIRST_MS = 5_000;
const RETRY_MOST_MS = 5 * 60_000;

interface MappingState {
  /** Paths (relative to the mapping) changed or created since their last copy. */
  files: Set<string>;
  /** When the oldest of them was seen. */
  firstAt: number | undefined;
  /** The last event of any kind. */
  lastAt: number;
  /** A deletion, a rename or a missed event: only a full backup carries it over. */
  needsFull: boolean;
  /** When the last full backup finished (or -Infinity: none yet since watch started). */
  lastFullAt: number;
  /** After a failure: nothing of this mapping runs before then. */
  retryAt: number;
  retryMs: number;
  /** How often a full backup runs (shorter for a tree that cannot be watched). */
  fullEveryMs: number;
  /** No more full backups until watch starts again (one tripped a delete limit). */
  held: boolean;
}

/** What is due now: files to copy by list, per mapping, and mappings to back up in full. */
export interface DueWork {
  batches: Array<{ name: string; files: string[] }>;
  fullSyncs: string[];
}

/**
 * Pure (time is passed in): the changes `poof watch` has seen and not yet copied, per mapping,
 * and when each is due. Changes wait for a quiet moment (or the longest delay); a deletion or
 * rename waits for a calm one and then a full backup of the mapping, which also runs
 * periodically and once at start (it catches up with what changed while watch was not running).
 */
export class ChangeQueue {
  private readonly mappings = new Map<string, MappingState>();

  constructor(
    names: string[],
    private readonly timing: WatchTiming,
  ) {
    for (const name of names) {
      this.mappings.set(name, { files: new Set(), firstAt: undefined, lastAt: -Infinity, needsFull: false, lastFullAt: -Infinity, retryAt: -Infinity, retryMs: RETRY_FIRST_MS, fullEveryMs: timing.fullSyncMs, held: false });
    }
  }

  private state(name: string): MappingState {
    const state = this.mappings.get(name);
    if (!state) throw new Error(`not a watched mapping: ${name}`);
    return state;
  }

  /** A file was created or changed. */
  changed(name: string, rel: string, now: number): void {
    const state = this.state(name);
    if (state.files.size === 0) state.firstAt = now;
    state.files.add(rel);
    state.lastAt = now;
  }

  /** Something was deleted or renamed away, or events were missed: a full backup carries it over. */
  needsFull(name: string, now: number): void {
    const state = this.state(name);
    state.needsFull = true;
    state.lastAt = now;
  }

  /** Files not copied yet (still being written, or their batch failed): due again with the next quiet moment. */
  putBack(name: string, files: string[], now: number): void {
    for (const file of files) this.changed(name, file, now);
  }

  /**
   * A batch or full backup failed: its work stays queued and the mapping waits, 5 s doubling to
   * 5 min; `briefly` (another run held the lock): 5 s, with no doubling.
   */
  failed(name: string, now: number, work: { files?: string[]; full?: boolean }, briefly = false): void {
    const state = this.state(name);
    for (const file of work.files ?? []) {
      if (state.files.size === 0) state.firstAt = now;
      state.files.add(file);
    }
    if (work.full) state.needsFull = true;
    state.retryAt = now + (briefly ? RETRY_FIRST_MS : state.retryMs);
    if (!briefly) state.retryMs = Math.min(state.retryMs * 2, RETRY_MOST_MS);
  }

  /** Milliseconds until a failed mapping is tried again. */
  retryIn(name: string, now: number): number {
    return Math.max(0, this.state(name).retryAt - now);
  }

  /**
   * A full backup stopped at a delete limit: rclone deleted up to it, and each new try would
   * delete as many more. No more full backups of the mapping until watch starts again; its
   * changed files are still copied (a copy deletes nothing).
   */
  hold(name: string): void {
    const state = this.state(name);
    state.held = true;
    state.needsFull = false;
  }

  /** A tree that cannot be watched: backed up in full this often instead. */
  fullEvery(name: string, ms: number): void {
    this.state(name).fullEveryMs = ms;
  }

  /** A batch or full backup finished: failures are forgotten; a full one also clears the periodic clock. */
  succeeded(name: string, now: number, full: boolean): void {
    const state = this.state(name);
    state.retryAt = -Infinity;
    state.retryMs = RETRY_FIRST_MS;
    if (full) state.lastFullAt = now;
  }

  private fullDue(state: MappingState, now: number): boolean {
    if (state.held) return false;
    return (state.needsFull && now - state.lastAt >= this.timing.calmMs) || now - state.lastFullAt >= state.fullEveryMs || state.files.size > MAX_LISTED;
  }

  private batchDue(state: MappingState, now: number): boolean {
    return state.files.size > 0 && (now - state.lastAt >= this.timing.quietMs || now - (state.firstAt ?? now) >= this.timing.maxDelayMs);
  }

  /**
   * Take what is due: its files leave the queue (the caller puts back what it does not copy). A
   * full backup takes the mapping's listed files too: it copies them anyway.
   */
  take(now: number): DueWork {
    const due: DueWork = { batches: [], fullSyncs: [] };
    for (const [name, state] of this.mappings) {
      if (now < state.retryAt) continue;
      if (this.fullDue(state, now)) {
        due.fullSyncs.push(name);
        state.files.clear();
        state.firstAt = undefined;
        state.needsFull = false;
      } else if (this.batchDue(state, now)) {
        due.batches.push({ name, files: [...state.files].sort() });
        state.files.clear();
        state.firstAt = undefined;
      }
    }
    return due;
  }

  /** Milliseconds until something is due (0: now); undefined when nothing waits but the periodic backup. */
  nextDueIn(now: number): number {
    let soonest = Infinity;
    for (const state of this.mappings.values()) {
      const times = state.held ? [Infinity] : [state.lastFullAt + state.fullEveryMs];
      if (state.needsFull && !state.held) times.push(state.lastAt + this.timing.calmMs);
      if (state.files.size > 0) times.push(Math.min(state.lastAt + this.timing.quietMs, (state.firstAt ?? now) + this.timing.maxDelayMs));
      const at = Math.max(Math.min(...times), state.retryAt);
      soonest = Math.min(soonest, at);
    }
    return Math.max(0, soonest - now);
  }

  /** Files waiting to be copied, over all mappings (the status line's queue). */
  waiting(): number {
    let count = 0;
    for (const state of this.mappings.values()) count += state.files.size;
    return count;
  }
}
