import { mkdir, readFile } from 'node:fs/promises';
import { runProgram } from '../process/run.js';

/** One change the file system reported: a path below a watched directory. */
export interface WatchEvent {
  path: string;
  type: 'create' | 'update' | 'delete';
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

/** The one thing watch needs of a watcher library: events for a whole tree, and its errors. */
export interface Watcher {
  subscribe(dir: string, onEvents: (events: WatchEvent[]) => void, onError: (error: Error) => void): Promise<Subscription>;
  /** Ends what the watcher holds besides the subscriptions. */
  close?(): Promise<void>;
}

/**
 * @parcel/watcher: one native watch per tree (inotify on Linux, FSEvents on macOS), which reports
 * events in batches and keeps no JavaScript object per file: memory stays flat on a large tree.
 * Loaded only by `poof watch`.
 *
 * Its Linux backend (one inotify instance, shared by every subscription in the process) blocks the
 * whole process for ever when it cannot make that instance (the user's max_user_instances is
 * reached): before the first subscription, a child process proves one can be made, and a watch of
 * `anchorDir` (an empty folder of poof's own) is held for the watcher's life, so that the backend,
 * once made, is never made again when a mapping's watch is renewed.
 */
export async function parcelWatcher(anchorDir: string): Promise<Watcher> {
  const { default: parcel } = await import('@parcel/watcher');
  let anchor: Promise<Subscription> | undefined;
  const start = async (): Promise<Subscription> => {
    await mkdir(anchorDir, { recursive: true, mode: 0o700 });
    const refused = await inotifyRefused(anchorDir);
    if (refused) throw new Error(refused);
    return parcel.subscribe(anchorDir, () => undefined);
  };
  return {
    subscribe: async (dir, onEvents, onError) => {
      anchor ??= start();
      // Not made (a limit): tried again at the next subscription.
      await anchor.catch((error: unknown) => {
        anchor = undefined;
        throw error;
      });
      return parcel.subscribe(dir, (error, events) => {
        if (error) onError(error);
        else onEvents(events);
      });
    },
    close: async () => {
      await (await anchor?.catch(() => undefined))?.unsubscribe();
    },
  };
}

/** Linux: why no inotify instance can be made now (its message), tried in a child process; undefined when one can. */
async function inotifyRefused(dir: string): Promise<string | undefined> {
  if (process.platform !== 'linux') return undefined;
  const probe = `try { require('node:fs').watch(${JSON.stringify(dir)}).close(); } catch (error) { process.stdout.write(error.message); process.exitCode = 3; }`;
  const ran = await runProgram(process.execPath, ['-e', probe], { env: { PATH: process.env.PATH ?? '' }, timeoutMs: 30_000 });
  if (ran.exitCode === 0) return undefined;
  // Node names the folder it tried, which is poof's own, not the user's: left out.
  return ran.stdout.trim().replace(/, watch '.*'$/s, '') || `the watcher could not start (exit ${ran.exitCode})`;
}

/**
 * Pure: what to tell the user when watching a tree failed for a system limit: Linux's inotify
 * gives one watch per directory and fails with ENOSPC ("No space left on device") past
 * fs.inotify.max_user_watches, or EMFILE past max_user_instances. Undefined for other errors.
 */
export function watchLimitAdvice(message: string, limits: { watches?: number | undefined; instances?: number | undefined }): string | undefined {
  if (/No space left on device|ENOSPC/i.test(message)) {
    const now = limits.watches !== undefined ? ` (now ${limits.watches})` : '';
    return `the system's limit on watched directories is reached: raise it${now}, e.g. \`sudo sysctl fs.inotify.max_user_watches=524288\` (and put that line in /etc/sysctl.d/60-poof.conf to keep it)`;
  }
  if (/Too many open files|EMFILE/i.test(message)) {
    const now = limits.instances !== undefined ? ` (now ${limits.instances})` : '';
    return `the system's limit on file watchers is reached: raise it${now}, e.g. \`sudo sysctl fs.inotify.max_user_instances=1024\``;
  }
  return undefined;
}

/**
 * Linux's inotify limits, where there are any to read: the lower of the system's
 * (fs.inotify.*) and the user namespace's (user.max_inotify_*, what a container may lower).
 */
export async function inotifyLimits(): Promise<{ watches?: number; instances?: number }> {
  const read = async (file: string) => {
    const text = (await readFile(file, 'utf8').catch(() => '')).trim();
    const value = Number(text);
    return text !== '' && Number.isInteger(value) && value >= 0 ? value : undefined;
  };
  const lowest = async (files: string[]) => {
    const values = (await Promise.all(files.map(read))).filter((value): value is number => value !== undefined);
    return values.length > 0 ? Math.min(...values) : undefined;
  };
  const [watches, instances] = await Promise.all([
    lowest(['/proc/sys/fs/inotify/max_user_watches', '/proc/sys/user/max_inotify_watches']),
    lowest(['/proc/sys/fs/inotify/max_user_instances', '/proc/sys/user/max_inotify_instances']),
  ]);
  return { ...(watches !== undefined ? { watches } : {}), ...(instances !== undefined ? { instances } : {}) };
}
