import { hostname } from 'node:os';
import { link, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { LockedError } from '../errors.js';

export interface LockHolder {
  pid: number;
  host: string;
  command: string;
  started: string;
}

export interface LockOptions {
  /** While `poof watch` holds the lock (one batch at a time), wait up to this long for it. */
  waitForWatch?: { ms: number; onWait?: (holder: LockHolder) => void; signal?: AbortSignal };
}

export interface HeldLock {
  release(): Promise<void>;
  /** Set when a lock left by a dead process was cleared to take this one. */
  clearedStale?: LockHolder;
}

/** Pure: is a holder's process gone? Only provable on the same host. */
export function isStale(holder: LockHolder, thisHost: string, isAlive: (pid: number) => boolean): boolean {
  return holder.host === thisHost && !isAlive(holder.pid);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One run at a time per config. The lock file holds the holder's PID, host, command and start
 * time. It is created with link(2), which fails when the file exists, so two runs can never both
 * win. A lock whose process is dead on this host is cleared (and reported) before retrying.
 * Lock libraries such as proper-lockfile judge staleness by age and keep no PID to name the
 * holder, which is why this is written out here.
 */
export async function acquireLock(file: string, command: string, options: LockOptions = {}): Promise<HeldLock> {
  const me: LockHolder = { pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(me)}\n`, { mode: 0o600 });
  let clearedStale: LockHolder | undefined;
  const waitUntil = Date.now() + (options.waitForWatch?.ms ?? 0);
  let waited = false;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(temp, file);
        const release = async () => {
          const current = await readHolder(file);
          if (current?.pid === me.pid && current.started === me.started) await rm(file, { force: true });
        };
        return clearedStale ? { release, clearedStale } : { release };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = await readHolder(file);
      if (holder && !isStale(holder, me.host, processAlive) && holder.command === 'watch' && Date.now() < waitUntil && !options.waitForWatch?.signal?.aborted) {
        // `poof watch` holds the lock for one batch at a time: wait for it to end.
        if (!waited) options.waitForWatch?.onWait?.(holder);
        waited = true;
        await new Promise((resolve) => setTimeout(resolve, 200));
        attempt--;
        continue;
      }
      if (holder && !isStale(holder, me.host, processAlive)) {
        throw new LockedError(
          `another poof run holds the lock: pid ${holder.pid} (${holder.command}, started ${holder.started}${holder.host !== me.host ? ` on ${holder.host}` : ''})`,
          `wait for it to finish; if it is gone, remove ${file}`,
        );
      }
      if (!holder) {
        // Unreadable or half-written: only a crash leaves that; treat it as stale.
        clearedStale = { pid: 0, host: me.host, command: 'unknown', started: 'unknown' };
      } else clearedStale = holder;
      await unlink(file).catch(() => {});
    }
    throw new LockedError(`could not take the lock ${file} after clearing stale locks`, 'try again');
  } finally {
    await rm(temp, { force: true });
  }
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    if (typeof data.pid !== 'number') return undefined;
    return { pid: data.pid, host: String(data.host ?? ''), command: String(data.command ?? ''), started: String(data.started ?? '') };
  } catch {
    return undefined;
  }
}
