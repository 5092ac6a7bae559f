import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChangeQueue, MAX_LISTED, watchTiming } from '../../src/watch/queue.js';
import { routeEvent, watchLoop, type PathState, type WatchAdapters, type WatchReport, type WorkOutcome } from '../../src/watch/run.js';
import { batchFolderId } from '../../src/watch/history.js';
import { watchLimitAdvice, type WatchEvent } from '../../src/watch/watcher.js';
import { watchLine, watchStatus } from '../../src/ui/watch-view.js';
import { buildSyncArgs, renderListedFilters, STAGING_EXCLUDE } from '../../src/rclone/args.js';
import { settingsFor } from '../helpers/transfer.js';

const timing = { quietMs: 2_000, maxDelayMs: 30_000, calmMs: 60_000, fullSyncMs: 3_600_000 };

describe('poof watch: the queue of changes', () => {
  it('poof.conf "watch" sets the timing; the defaults are 2 s quiet, 30 s at most, 60 s calm, a full backup hourly', () => {
    assert.deepEqual(watchTiming({}), timing);
    assert.deepEqual(watchTiming({ watch: { quietSeconds: 5, fullSyncMinutes: 10 } }), { ...timing, quietMs: 5_000, fullSyncMs: 600_000 });
  });

  it('starts with a full backup (catching up), then copies a mapping\'s files once it has been quiet', () => {
    const queue = new ChangeQueue(['A', 'B'], timing);
    assert.deepEqual(queue.take(0), { batches: [], fullSyncs: ['A', 'B'] });
    queue.succeeded('A', 0, true);
    queue.succeeded('B', 0, true);
    queue.changed('A', 'x.txt', 1_000);
    queue.changed('A', 'y.txt', 2_500);
    assert.deepEqual(queue.take(4_000), { batches: [], fullSyncs: [] }, 'y.txt is 1.5 s old: not quiet yet');
    assert.equal(queue.nextDueIn(4_000), 500);
    assert.deepEqual(queue.take(4_500), { batches: [{ name: 'A', files: ['x.txt', 'y.txt'] }], fullSyncs: [] });
    assert.equal(queue.waiting(), 0);
  });

  it('a mapping that never goes quiet is copied at the longest delay', () => {
    const queue = new ChangeQueue(['A'], timing);
    queue.succeeded('A', 0, true);
    for (let t = 1_000; t < 31_000; t += 1_000) {
      queue.changed('A', `f${t}`, t);
      if (t < 31_000 - 1_000) assert.deepEqual(queue.take(t).batches, []);
    }
    assert.equal(queue.take(31_000).batches[0]?.files.length, 30);
  });

  it('a deletion waits for a calm moment and a full backup, which takes the listed files too', () => {
    const queue = new ChangeQueue(['A'], timing);
    queue.succeeded('A', 0, true);
    queue.needsFull('A', 1_000);
    queue.changed('A', 'x', 1_000);
    // The listed file goes first, the deletion waits for the calm.
    assert.deepEqual(queue.take(3_000), { batches: [{ name: 'A', files: ['x'] }], fullSyncs: [] });
    queue.changed('A', 'y', 30_000);
    assert.deepEqual(queue.take(60_000).fullSyncs, []);
    assert.deepEqual(queue.take(90_000), { batches: [], fullSyncs: ['A'] });
    assert.equal(queue.waiting(), 0);
    // ...and the periodic one, an hour after the last full backup.
    queue.succeeded('A', 90_000, true);
    assert.equal(queue.nextDueIn(90_000), 3_600_000);
    assert.deepEqual(queue.take(3_690_000).fullSyncs, ['A']);
  });

  it('a failed batch keeps its files and waits, 5 s doubling to 5 min; a held lock waits 5 s without doubling', () => {
    const queue = new ChangeQueue(['A'], timing);
    queue.succeeded('A', 0, true);
    queue.failed('A', 10_000, { files: ['x'] });
    assert.equal(queue.retryIn('A', 10_000), 5_000);
    assert.deepEqual(queue.take(14_999).batches, []);
    assert.deepEqual(queue.take(15_000).batches, [{ name: 'A', files: ['x'] }]);
    queue.failed('A', 15_000, { files: ['x'] });
    assert.equal(queue.retryIn('A', 15_000), 10_000);
    queue.failed('A', 25_000, { files: ['x'] }, true);
    assert.equal(queue.retryIn('A', 25_000), 5_000);
    for (let i = 0; i < 10; i++) queue.failed('A', 30_000, { files: ['x'] });
    assert.equal(queue.retryIn('A', 30_000), 300_000);
    queue.succeeded('A', 40_000, false);
    queue.failed('A', 40_000, { files: ['x'] });
    assert.equal(queue.retryIn('A', 40_000), 5_000, 'a success starts the doubling over');
  });

  it(`more than ${MAX_LISTED} files waiting go by a full backup instead of a list; an unwatched tree is backed up in full more often`, () => {
    const queue = new ChangeQueue(['A', 'B'], timing);
    queue.succeeded('A', 0, true);
    queue.succeeded('B', 0, true);
    for (let i = 0; i <= MAX_LISTED; i++) queue.changed('A', `f${i}`, 1_000);
    assert.deepEqual(queue.take(1_000), { batches: [], fullSyncs: ['A'] });
    queue.fullEvery('B', 300_000);
    assert.deepEqual(queue.take(300_000).fullSyncs, ['B']);
  });
});

describe('poof watch: routing, folders, advice and lines', () => {
  it('an event belongs to every watched directory holding it (nested mappings each get it), by the real path', () => {
    const targets = [
      { name: 'Home', localDir: '/home/u', watchDir: '/home/u' },
      { name: 'Docs', localDir: '/home/u/docs', watchDir: '/home/u/docs' },
      { name: 'Linked', localDir: '/home/u/link', watchDir: '/data/real' },
    ];
    assert.deepEqual(routeEvent(targets, '/home/u/docs/a/b.txt'), [
      { name: 'Home', rel: 'docs/a/b.txt' },
      { name: 'Docs', rel: 'a/b.txt' },
    ]);
    assert.deepEqual(routeEvent(targets, '/home/u/docsx/c'), [{ name: 'Home', rel: 'docsx/c' }]);
    assert.deepEqual(routeEvent(targets, '/data/real/x'), [{ name: 'Linked', rel: 'x' }]);
    assert.deepEqual(routeEvent(targets, '/home/other/c'), []);
    assert.deepEqual(routeEvent(targets, '/home/u'), []);
  });

  it('a batch\'s filter: the excludes and restore staging first, then each file exactly (globs escaped), then nothing else', () => {
    assert.equal(
      renderListedFilters(['*.tmp'], ['a/b.txt', 'we[i]rd/a*b?.txt', 'trailing ']),
      ['- *.tmp', `- ${STAGING_EXCLUDE}`, '+ /a/b.txt', '+ /we\\[i\\]rd/a\\*b\\?.txt', '+ /trailing[ ]', '- **', ''].join('\n'),
    );
    const args = buildSyncArgs({ ...settingsFor('local'), source: '/d', dest: 'r:b/D', copyOnly: true, filterFrom: '/s/f' });
    assert.deepEqual(args.slice(0, 3), ['copy', '/d', 'r:b/D']);
    assert.equal(args[args.indexOf('--filter-from') + 1], '/s/f');
    assert.ok(args.includes('--no-traverse'));
    assert.equal(args.includes('--exclude'), false, 'rclone takes the excludes from the filter file only');
  });

  it('batch folders sort in order as text, after the window\'s run and before the next run', () => {
    const ids = [1, 2, 9, 10, 123456].map((n) => batchFolderId('20261204T180000Z', n));
    assert.deepEqual(ids, ['20261204T180000Z', '20261204T180000Z-000002', '20261204T180000Z-000009', '20261204T180000Z-000010', '20261204T180000Z-123456']);
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(ids.every((id) => id < '20261204T180001Z'));
  });

  it('says what to raise when the watch limit is reached, and nothing for other errors', () => {
    const advice = watchLimitAdvice("inotify_add_watch on '/home/u/docs' failed: No space left on device", { watches: 8192 });
    assert.match(advice ?? '', /raise it \(now 8192\), e\.g\. `sudo sysctl fs\.inotify\.max_user_watches=524288`/);
    assert.match(watchLimitAdvice('EMFILE: too many open files', { instances: 128 }) ?? '', /max_user_instances=1024/);
    assert.equal(watchLimitAdvice('Permission denied', {}), undefined);
  });

  it('prints one line per event, and a status line on a terminal', () => {
    assert.equal(watchLine({ kind: 'copied', name: 'Docs', files: 1, at: 0 }), 'Docs: copied 1 file');
    assert.equal(watchLine({ kind: 'failed', name: 'Docs', reason: 'connection refused', full: false, retryInMs: 10_000 }), 'Docs: copy FAILED: connection refused; trying again in 10 s');
    assert.equal(watchLine({ kind: 'queue', waiting: 3 }), undefined);
    assert.match(watchStatus({ watching: 2, waiting: 3 }), /^watching 2 directories · nothing copied yet · 3 waiting$/);
    assert.match(watchStatus({ watching: 1, waiting: 0, lastCopy: { name: 'Docs', files: 2, at: Date.now() } }), /^watching 1 directory · last copy \d\d:\d\d:\d\d \(Docs, 2 files\) · 0 waiting$/);
  });
});

/**
 * A recorded fake of every side effect: a file system of paths with times, a lock, copies and
 * backups that answer as told, and a clock the loop's sleeps move forward.
 */
class FakeWorld {
  now = 1_000_000;
  files = new Map<string, PathState>();
  emit: (events: WatchEvent[]) => void = () => undefined;
  copies: Array<{ name: string; files: string[] }> = [];
  backups: string[][] = [];
  reports: WatchReport[] = [];
  lockHeld: string | undefined;
  copyAnswers: WorkOutcome[] = [];
  backupAnswer: (name: string) => WorkOutcome = () => ({ ok: true, copied: 0 });
  subscribeError: string | undefined;
  identity: string | undefined = '1:1';
  staleReason: string | undefined;
  /** Once, right after a walk: a writer busy while the folder is looked at. */
  afterWalk: (() => void) | undefined;
  subscriptions = 0;
  replacingGoesFull = false;
  /** Each sleep runs the next scripted step (the user's actions), then moves the clock. */
  steps: Array<() => void> = [];
  controller = new AbortController();

  write(file: string, ageMs = 10_000): void {
    this.files.set(file, { kind: 'file', size: 1, mtimeMs: this.now - ageMs });
  }

  adapters(): WatchAdapters {
    return {
      watcher: {
        subscribe: async (_dir, onEvents) => {
          if (this.subscribeError) throw new Error(this.subscribeError);
          this.subscriptions++;
          this.emit = onEvents;
          return { unsubscribe: async () => undefined };
        },
      },
      now: () => this.now,
      stat: async (file) => this.files.get(file) ?? { kind: 'missing' },
      identity: async () => this.identity,
      realDir: async (dir) => dir,
      stale: async () => this.staleReason,
      walk: async (dir) => {
        const found = [...this.files.keys()].filter((f) => f.startsWith(`${dir}/`) && this.files.get(f)!.kind === 'file').map((f) => f.slice(dir.length + 1));
        this.afterWalk?.();
        this.afterWalk = undefined;
        return found;
      },
      lock: async () => (this.lockHeld ? { heldBy: this.lockHeld } : { release: async () => undefined }),
      copy: async (target, files) => {
        this.copies.push({ name: target.name, files });
        return this.copyAnswers.shift() ?? { ok: true, copied: files.length };
      },
      backup: async (names) => {
        this.backups.push(names);
        return new Map(names.map((name) => [name, this.backupAnswer(name)]));
      },
      sleep: async (ms) => {
        const step = this.steps.shift();
        if (step) step();
        else this.controller.abort();
        this.now += Math.min(Math.max(ms, 100), 1_000);
      },
      wake: () => undefined,
      report: (report) => void this.reports.push(report),
      replacingGoesFull: this.replacingGoesFull,
    };
  }

  run(): ReturnType<typeof watchLoop> {
    return watchLoop([{ name: 'Docs', localDir: '/d', watchDir: '/d' }], timing, this.adapters(), this.controller.signal);
  }
}

describe('poof watch: the loop, with every side effect recorded', () => {
  it('catches up with a full backup, then copies a save, a folder moved in whole and an atomic save, each once', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.write('/d/a.txt');
        world.emit([{ path: '/d/a.txt', type: 'create' }]);
      },
      () => undefined,
      () => undefined,
      () => undefined,
      () => {
        world.write('/d/new/x.txt');
        world.write('/d/new/sub/y.txt');
        world.files.set('/d/new', { kind: 'directory', size: 0, mtimeMs: world.now });
        // An editor's atomic save: the temp file is gone by the time it is looked at.
        world.write('/d/b.txt');
        world.emit([{ path: '/d/new', type: 'create' }, { path: '/d/.b.txt.swp', type: 'create' }, { path: '/d/b.txt', type: 'create' }]);
      },
      () => undefined,
      () => undefined,
      () => undefined,
    ];
    const totals = await world.run();
    assert.deepEqual(world.backups, [['Docs']]);
    assert.deepEqual(world.copies, [
      { name: 'Docs', files: ['a.txt'] },
      { name: 'Docs', files: ['b.txt', 'new/sub/y.txt', 'new/x.txt'] },
    ]);
    assert.deepEqual(totals.get('Docs'), { copied: 4, batches: 2, backups: 1 });
    assert.deepEqual(world.reports.filter((r) => r.kind === 'copied').map((r) => (r as { files: number }).files), [1, 3]);
  });

  it('a file still being written waits until it looks the same twice; a deletion goes by the full backup once calm', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.write('/d/log.txt', 0);
        world.emit([{ path: '/d/log.txt', type: 'update' }]);
      },
      () => undefined,
      () => undefined,
      () => {
        world.files.delete('/d/old.txt');
        world.emit([{ path: '/d/old.txt', type: 'delete' }]);
      },
      ...Array.from({ length: 700 }, () => () => undefined),
    ];
    world.controller.signal.addEventListener('abort', () => undefined);
    await world.run();
    assert.deepEqual(world.copies.map((c) => c.files), [['log.txt']], 'copied once, after the second look');
    assert.equal(world.backups.length, 2, 'the catch-up, then the deletion');
  });

  it('WebDAV (a failed write over a folder removes its files): a file where a folder was deleted goes with the full backup; after it, batches again', async () => {
    for (const replacingGoesFull of [true, false]) {
      const world = new FakeWorld();
      world.replacingGoesFull = replacingGoesFull;
      world.steps = [
        () => {
          // The folder p (with x.txt) made a file p; q.txt saved beside it.
          world.files.delete('/d/p/x.txt');
          world.write('/d/p');
          world.write('/d/q.txt');
          // As @parcel/watcher reports it: the folder's deletion and the file's creation coalesced.
          world.emit([{ path: '/d/p/x.txt', type: 'delete' }, { path: '/d/p', type: 'update' }, { path: '/d/q.txt', type: 'create' }]);
        },
        ...Array.from({ length: 80 }, () => () => undefined),
        () => {
          world.write('/d/p');
          world.emit([{ path: '/d/p', type: 'update' }]);
        },
        ...Array.from({ length: 10 }, () => () => undefined),
      ];
      await world.run();
      const copied = world.copies.map((c) => c.files);
      if (replacingGoesFull) assert.deepEqual(copied, [['q.txt'], ['p']], 'p waits for the full backup; a later save of it is batched');
      else assert.deepEqual(copied, [['p', 'q.txt'], ['p']]);
      assert.equal(world.backups.length, 2, 'the catch-up, then the deletion\'s');
    }
  });

  it('another run holding the lock: the batch waits and is copied after it, nothing lost', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.write('/d/a.txt');
        world.emit([{ path: '/d/a.txt', type: 'create' }]);
        world.lockHeld = 'another poof run holds the lock: pid 42 (backup)';
      },
      () => undefined,
      () => undefined,
      () => (world.lockHeld = undefined),
      () => undefined,
      () => undefined,
    ];
    await world.run();
    assert.deepEqual(world.copies, [{ name: 'Docs', files: ['a.txt'] }]);
    assert.ok(world.reports.some((r) => r.kind === 'waiting'));
  });

  it('a remote that goes away: the copy fails, is tried again with its files, and succeeds when it is back', async () => {
    const world = new FakeWorld();
    world.copyAnswers = [{ ok: false, reason: 'connection refused' }, { ok: false, reason: 'connection refused' }];
    world.steps = [
      () => {
        world.write('/d/a.txt');
        world.emit([{ path: '/d/a.txt', type: 'create' }]);
      },
      ...Array.from({ length: 40 }, () => () => undefined),
    ];
    const totals = await world.run();
    assert.deepEqual(world.copies.map((c) => c.files), [['a.txt'], ['a.txt'], ['a.txt']]);
    const failed = world.reports.filter((r): r is Extract<WatchReport, { kind: 'failed' }> => r.kind === 'failed');
    assert.deepEqual(failed.map((r) => r.retryInMs), [5_000, 10_000]);
    assert.deepEqual(totals.get('Docs'), { copied: 1, batches: 1, backups: 1 });
  });

  it('a tree that cannot be watched (the inotify limit) is said so, with what to raise, and backed up in full every 5 min', async () => {
    const world = new FakeWorld();
    world.subscribeError = "inotify_add_watch on '/d' failed: No space left on device";
    world.steps = Array.from({ length: 3500 }, () => () => undefined);
    await world.run();
    const unwatched = world.reports.find((r) => r.kind === 'unwatched');
    assert.ok(unwatched && unwatched.kind === 'unwatched' && unwatched.everyMs === 300_000);
    assert.ok(world.backups.length >= 2, `${world.backups.length} full backups`);
  });

  it('a pipe is never copied (rclone would block reading it); a link is, as rclone names it', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.files.set('/d/pipe', { kind: 'other', size: 0, mtimeMs: world.now - 10_000 });
        world.files.set('/d/lnk', { kind: 'link', size: 3, mtimeMs: world.now - 10_000 });
        world.emit([{ path: '/d/pipe', type: 'create' }, { path: '/d/lnk', type: 'create' }]);
      },
      () => undefined,
      () => undefined,
      () => undefined,
    ];
    await world.run();
    assert.deepEqual(world.copies.map((c) => c.files), [['lnk']]);
  });

  it('a folder unmounted and mounted again is watched again, with a full backup for what changed meanwhile', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => (world.identity = undefined),
      () => undefined,
      () => (world.identity = '2:7'),
      ...Array.from({ length: 70 }, () => () => undefined),
    ];
    await world.run();
    assert.equal(world.subscriptions, 2);
    assert.ok(world.reports.some((r) => r.kind === 'rewatched'));
    assert.equal(world.backups.length, 2, 'the catch-up, and the one after the folder came back');
  });

  it('a full backup stopped at a delete limit is not tried again (each try deletes as many more); copies go on', async () => {
    const world = new FakeWorld();
    world.backupAnswer = () => ({ ok: false, reason: "rclone.maxDelete (2) tripped", hold: true });
    world.steps = [
      () => {
        world.write('/d/a.txt');
        world.emit([{ path: '/d/a.txt', type: 'create' }]);
      },
      ...Array.from({ length: 4000 }, () => () => undefined),
    ];
    await world.run();
    assert.equal(world.backups.length, 1, 'over an hour, only the first');
    assert.deepEqual(world.copies.map((c) => c.files), [['a.txt']]);
    assert.ok(world.reports.some((r) => r.kind === 'failed' && r.held === true));
  });

  it('a folder created inside: the watch is made anew (the watcher would not see its inner folders), and the folder walked again', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.files.set('/d/proj', { kind: 'directory', size: 0, mtimeMs: world.now });
        world.write('/d/proj/src/deep/main.c');
        // Written after the first look at the new folder, before its new watch: no event for it.
        world.afterWalk = () => world.write('/d/proj/src/deep/later.c');
        world.emit([{ path: '/d/proj', type: 'create' }]);
      },
      () => undefined,
      () => undefined,
      () => undefined,
    ];
    await world.run();
    assert.equal(world.subscriptions, 2, 'watched anew');
    assert.deepEqual(world.copies.map((c) => c.files), [['proj/src/deep/later.c', 'proj/src/deep/main.c']]);
    assert.equal(world.backups.length, 1, 'the full backup for what changed while the watch was made anew waits for the calm');
  });

  it('the config files changed: watch stops before any more work, saying why', async () => {
    const world = new FakeWorld();
    world.steps = [
      () => {
        world.write('/d/a.txt');
        world.emit([{ path: '/d/a.txt', type: 'create' }]);
        world.staleReason = 'poof.conf changed';
      },
      () => undefined,
      () => undefined,
    ];
    await world.run();
    assert.deepEqual(world.copies, []);
    assert.ok(world.reports.some((r) => r.kind === 'stopped' && r.reason === 'poof.conf changed'));
  });
});
