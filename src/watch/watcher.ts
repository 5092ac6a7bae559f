import { readFile } from 'node:fs/promises';

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
}

/**
 * @parcel/watcher: one native watch per tree (inotify on Linux, FSEvents on macOS), which reports
 * events in batches and keeps no JavaScript object per file: memory stays flat on a large tree.
 * Loaded only by `poof watch`.
 */
export async function parcelWatcher(): Promise<Watcher> {
  const { default: parcel } = await import('@parcel/watcher');
  return {
    subscribe: (dir, onEvents, onError) =>
      parcel.subscribe(dir, (error, events) => {
        if (error) onError(error);
        else onEvents(events);
      }),
  };
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

/** Linux's inotify limits, where there are any to read. */
export async function inotifyLimits(): Promise<{ watches?: number; instances?: number }> {
  const read = async (name: string) => {
    const value = Number((await readFile(`/proc/sys/fs/inotify/${name}`, 'utf8').catch(() => '')).trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const [watches, instances] = await Promise.all([read('max_user_watches'), read('max_user_instances')]);
  return { ...(watches !== undefined ? { watches } : {}), ...(instances !== undefined ? { instances } : {}) };
}
