import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { MappingPlan } from '../../src/engine/plan.js';
import type { TransferResult } from '../../src/engine/result.js';
import type { ResolvedRemote } from '../../src/rclone/remote.js';
import type { Rclone, RcloneResult, RunOptions } from '../../src/rclone/runner.js';
import { encodeManifest, type RunManifest, type TreeState } from '../../src/versions/manifest.js';
import { recordRun, withKnownHashes, type RecordContext } from '../../src/versions/record-run.js';
import { nanosOf } from '../../src/engine/sent-record.js';
import { copyDict } from '../../src/dict.js';
import { lookAtStoredCopy, type StoredCopy } from '../../src/fs/stored-copy.js';
import type { SentRecord } from '../../src/engine/sent-record.js';
import { ManifestCache, readRunNames } from '../../src/versions/store.js';
import { dueForPrune } from '../../src/run/transfer.js';
import { buildMirrorLookupArgs } from '../../src/rclone/history-args.js';

const remote = { root: 'poof-backup:b', configFile: '/conf/rclone-poof.conf', tuning: {} } as unknown as ResolvedRemote;
const plan: MappingPlan = {
  name: 'Work',
  localDir: '/home/u/Work',
  remotePath: 'poof-backup:b/Work',
  args: [],
  syncInput: { backupDir: 'poof-backup:b/.poof-history/20261202T120000Z/Work' } as MappingPlan['syncInput'],
};
const T = Date.parse('2026-12-01T10:00:00Z');
const before: TreeState = { 'a.txt': { size: 1, mtime: T }, 'b.txt': { size: 2, mtime: T }, 'c.txt': { size: 3, mtime: T } };
const result = (copied: number, deleted: number, extra: Partial<TransferResult> = {}): TransferResult => ({ name: 'Work', localDir: plan.localDir, remotePath: plan.remotePath, status: 'ok', copied, deleted, errors: [], durationMs: 1, ...extra });

/**
 * An rclone adapter standing in for a remote whose mirror holds `mirror`: lsjson answers from it
 * (every file, or with --files-from exactly the listed ones that exist), copyto of a manifest
 * succeeds. Each call's argv is kept, with the --files-from list it read.
 */
function fakeRemote(mirror: TreeState) {
  const calls: Array<{ args: string[]; asked?: string[] }> = [];
  const rclone: Rclone = {
    bin: '/fake/rclone',
    version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
    async run(args: string[], _options?: RunOptions): Promise<RcloneResult> {
      const call: { args: string[]; asked?: string[] } = { args };
      calls.push(call);
      const ok = (stdout: string): RcloneResult => ({ exitCode: 0, stdout, stderr: '', timedOut: false });
      if (args[0] === 'copyto') return ok('');
      if (args[0] !== 'lsjson') throw new Error(`unexpected rclone ${args.join(' ')}`);
      if (args[1] !== plan.remotePath) return { exitCode: 3, stdout: '', stderr: 'directory not found', timedOut: false };
      const from = args.indexOf('--files-from-raw');
      const entry = (p: string) => ({ Path: p, Size: mirror[p]!.size, ModTime: new Date(mirror[p]!.mtime).toISOString() });
      if (from < 0) return ok(JSON.stringify(Object.keys(mirror).map(entry)));
      call.asked = (await readFile(args[from + 1]!, 'utf8')).split('\n').filter(Boolean);
      return ok(JSON.stringify(call.asked.filter((p) => mirror[p]).map(entry)));
    },
  };
  return { rclone, calls };
}

describe('recordRun: a run\'s manifest from the one before and what rclone reported', () => {
  let dir: string;
  let cache: ManifestCache;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'poof-record-'));
    cache = new ManifestCache(dir, remote);
    const previous: RunManifest = { format: 1, runId: '20261201T100000Z', mapping: 'Work', started: '2026-12-01T10:00:00.000Z', command: 'backup', status: 'complete', ended: '2026-12-01T10:00:01.000Z', counts: { added: 3, changed: 0, deleted: 0, keptBytes: 0 }, files: before };
    await cache.save(previous, encodeManifest(previous));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const context = (rclone: Rclone, excludes: string[] = []): RecordContext => ({ rclone, remote, cache, runId: '20261202T120000Z', command: 'backup', started: new Date('2026-12-02T12:00:00Z'), excludes, recorded: [] });
  const after = { 'a.txt': before['a.txt']!, 'b.txt': { size: 20, mtime: T + 5000 }, 'd.txt': { size: 4, mtime: T + 6000 } };

  it('after a full listing: lists only the files sent, takes out the files removed, and the record equals the mirror', async () => {
    await cache.saveListing('Work', '[]');
    const { rclone, calls } = fakeRemote(after);
    const outcome = await recordRun(context(rclone), plan, result(2, 1), { sent: new Set(['b.txt', 'd.txt']), removed: new Set(['c.txt']) });
    assert.deepEqual(calls.map((c) => c.args[0]), ['lsjson', 'copyto'], 'one listing of the sent files, then the manifest');
    assert.deepEqual(calls[0]!.asked, ['b.txt', 'd.txt']);
    assert.ok(calls[0]!.args.includes('--no-traverse'));
    const written = await cache.latest('Work');
    assert.equal(written?.runId, '20261202T120000Z');
    assert.deepEqual(written?.files, copyDict(after));
    assert.deepEqual(written?.counts, { added: 1, changed: 1, deleted: 1, keptBytes: 5 });
    assert.deepEqual({ kept: outcome.keptFiles, bytes: outcome.keptBytes, sent: outcome.sentBytes, wrote: outcome.wrote }, { kept: 2, bytes: 5, sent: 24, wrote: true });
  });

  it('on a local-directory cloud, a copy the transfer looked at and a later pass took out is not recorded from that look', async () => {
    await cache.saveListing('Work', '[]');
    const bucket = path.join(dir, 'cloud', 'b');
    await mkdir(path.join(bucket, 'Work'), { recursive: true });
    await writeFile(path.join(bucket, 'Work', 'b.txt'), 'x'.repeat(20));
    // c.txt was sent by the first pass and looked at then; a later pass moved it into the run's folder.
    const storedCopies = new Map<string, StoredCopy | undefined>([
      ['b.txt', lookAtStoredCopy(path.join(bucket, 'Work', 'b.txt'))],
      ['c.txt', { size: 3n, mtimeNs: BigInt(T) * 1_000_000n, ctimeNs: BigInt(T) * 1_000_000n, mode: 0o100644n }],
    ]);
    const mirror = { 'a.txt': before['a.txt']!, 'b.txt': { size: 20, mtime: T + 5000 } };
    const { rclone } = fakeRemote(mirror);
    const local = { ...context(rclone), remote: { ...remote, localDir: bucket } as ResolvedRemote, localMirrors: true };
    await recordRun(local, plan, result(2, 1), { sent: new Set(['b.txt', 'c.txt']), removed: new Set(['c.txt']), storedCopies });
    const written = await cache.latest('Work');
    assert.equal(written?.runId, '20261202T120000Z');
    assert.deepEqual(Object.keys(written?.files ?? {}).sort(), ['a.txt', 'b.txt'], 'c.txt is not in the mirror, so not in the record');
    assert.equal(written?.files?.['b.txt']?.size, 20);
  });

  it('a time set without a send is listed too: the record has the stored time', async () => {
    await cache.saveListing('Work', '[]');
    const touchedMirror = { ...before, 'a.txt': { size: 1, mtime: T + 9000 } };
    const { rclone, calls } = fakeRemote(touchedMirror);
    await recordRun(context(rclone), plan, result(0, 0), { touched: new Set(['a.txt']) });
    assert.deepEqual(calls[0]!.asked, ['a.txt']);
    assert.deepEqual((await cache.latest('Work'))?.files, copyDict(touchedMirror));
  });

  it('a sent file the remote does not list: the whole mirror is listed instead', async () => {
    await cache.saveListing('Work', '[]');
    const { rclone, calls } = fakeRemote(after);
    await recordRun(context(rclone), plan, result(2, 0), { sent: new Set(['b.txt', 'gone.txt']) });
    assert.deepEqual(calls.map((c) => [c.args[0], c.asked !== undefined]), [['lsjson', true], ['lsjson', false], ['copyto', false]]);
    assert.deepEqual((await cache.latest('Work'))?.files, copyDict(after));
  });

  it('rclone removed a file the newest manifest does not know (another machine added it): the whole mirror is listed', async () => {
    await cache.saveListing('Work', '[]');
    const { rclone, calls } = fakeRemote(after);
    await recordRun(context(rclone), plan, result(1, 1), { sent: new Set(['b.txt']), removed: new Set(['from-elsewhere.txt']) });
    assert.deepEqual(calls.filter((c) => c.args[0] === 'lsjson').map((c) => c.asked), [undefined]);
    assert.deepEqual((await cache.latest('Work'))?.files, copyDict(after));
  });

  for (const [why, setup] of [
    ['no full listing on this machine yet', async () => {}],
    ['other excludes than at the last full listing', async () => cache.saveListing('Work', '["*.tmp"]')],
    ['the last full listing a week old', async () => cache.saveListing('Work', '[]', new Date(Date.now() - 8 * 24 * 3600_000))],
  ] as const) {
    it(`${why}: the whole mirror is listed, and that listing is remembered`, async () => {
      await setup();
      const { rclone, calls } = fakeRemote(after);
      await recordRun(context(rclone), plan, result(1, 0), { sent: new Set(['b.txt']) });
      assert.deepEqual(calls.filter((c) => c.args[1] === plan.remotePath).map((c) => c.asked), [undefined], 'one full listing of the mirror');
      assert.deepEqual((await cache.latest('Work'))?.files, copyDict(after));
      assert.equal((await cache.lastListing('Work'))?.filter, '[]');
    });
  }

  it('a failed run is recorded as incomplete in one try, and a run stopped because the remote went away asks it nothing more', async () => {
    const writer = () => {
      const seen = { puts: 0, stops: 0 };
      return { seen, writer: { put: async () => (seen.puts++, 'rclone exited 1: connection refused'), stop: () => void seen.stops++ } };
    };
    const failed = fakeRemote(after);
    const once = writer();
    await recordRun(context(failed.rclone), plan, result(1, 0, { status: 'failed' }), {}, once.writer);
    assert.equal(once.seen.puts, 1);
    assert.deepEqual(failed.calls, [], 'no second try with copyto after the writer failed');
    const gone = fakeRemote(after);
    const unused = writer();
    await recordRun(context(gone.rclone), plan, result(1, 0, { status: 'failed', remoteGone: true }), {}, unused.writer);
    assert.deepEqual([unused.seen.puts, unused.seen.stops, gone.calls.length], [0, 1, 0]);
    assert.equal((await cache.latest('Work'))?.runId, '20261201T100000Z', 'the last complete record stays the newest');
  });

  it('after an unfinished run (the mirror may hold what no manifest saw): the whole mirror is listed', async () => {
    await cache.saveListing('Work', '[]');
    const { rclone, calls } = fakeRemote(after);
    await recordRun(context(rclone), plan, result(0, 0), { afterUnrecorded: true });
    assert.deepEqual(calls.filter((c) => c.args[0] === 'lsjson').map((c) => c.asked), [undefined]);
    assert.deepEqual((await cache.latest('Work'))?.files, copyDict(after));
  });

  it('a first backup into an empty mirror (no manifest here): recorded from the source listing, unhashed, the mirror never listed, and remembered as a full listing', async () => {
    const fresh = new ManifestCache(path.join(dir, 'fresh'), remote);
    const local = path.join(dir, 'first');
    await mkdir(local);
    await writeFile(path.join(local, 'new.txt'), 'first run');
    const info = await stat(path.join(local, 'new.txt'), { bigint: true });
    const asNanos = (ns: bigint) => `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
    const source: SentRecord = { 'new.txt': [9, asNanos(info.mtimeNs)] };
    const { rclone, calls } = fakeRemote({ 'new.txt': { size: 9, mtime: Number(info.mtimeNs / 1_000_000n) } });
    const ctx = { ...context(rclone), cache: fresh, exactTimes: true };
    await recordRun(ctx, { ...plan, localDir: local }, result(1, 0), { sent: new Set(['new.txt']), source, emptyBefore: true });
    assert.deepEqual(calls.filter((c) => c.args[1] === plan.remotePath), [], 'the mirror is not listed');
    assert.deepEqual((await fresh.latest('Work'))?.files, copyDict({ 'new.txt': { size: 9, mtime: Number(info.mtimeNs / 1_000_000n) } }), 'not hashed: a first run would read everything twice');
    assert.equal((await fresh.lastListing('Work'))?.filter, '[]');
    // Not known to be empty, or no source listing to record from: the whole mirror is listed.
    for (const seen of [{ source }, { emptyBefore: true }]) {
      const other = new ManifestCache(path.join(dir, `other-${Object.keys(seen).join()}`), remote);
      const again = fakeRemote({ 'new.txt': { size: 9, mtime: T } });
      await recordRun({ ...context(again.rclone), cache: other, exactTimes: true }, { ...plan, localDir: local }, result(1, 0), { sent: new Set(['new.txt']), ...seen });
      assert.deepEqual(again.calls.filter((c) => c.args[1] === plan.remotePath).map((c) => c.asked), [undefined], `${Object.keys(seen).join()}: one full listing`);
    }
  });

  it('storage that keeps times exactly: a sent file still as listed before the transfer is recorded as listed, without asking the remote; one changed since is asked', async () => {
    await cache.saveListing('Work', '[]');
    const local = path.join(dir, 'local');
    await mkdir(local);
    await writeFile(path.join(local, 'b.txt'), 'x'.repeat(20));
    await writeFile(path.join(local, 'd.txt'), 'later');
    const b = await stat(path.join(local, 'b.txt'), { bigint: true });
    const asNanos = (ns: bigint) => `${new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`;
    // d.txt was 4 bytes when listed; it is 5 now: what rclone sent is only known to the remote.
    const source: SentRecord = { 'a.txt': [1, new Date(T).toISOString()], 'b.txt': [20, asNanos(b.mtimeNs)], 'd.txt': [4, new Date(T + 6000).toISOString()] };
    const { rclone, calls } = fakeRemote(after);
    await recordRun({ ...context(rclone), exactTimes: true }, { ...plan, localDir: local }, result(2, 1), { sent: new Set(['b.txt', 'd.txt']), removed: new Set(['c.txt']), source });
    assert.deepEqual(calls.map((c) => c.asked), [['d.txt'], undefined], 'only d.txt listed, then the manifest written');
    const md5 = createHash('md5').update('x'.repeat(20)).digest('hex');
    assert.deepEqual((await cache.latest('Work'))?.files, copyDict({ ...after, 'b.txt': { size: 20, mtime: Number(b.mtimeNs / 1_000_000n), md5 } }), 'b.txt with the hash of what was sent');
    // Without exact times (SFTP keeps seconds) every sent file is asked.
    const again = fakeRemote(after);
    await recordRun({ ...context(again.rclone), runId: '20261202T130000Z', exactTimes: false }, { ...plan, localDir: local }, result(1, 0), { sent: new Set(['b.txt']), source });
    assert.deepEqual(again.calls[0]!.asked, ['b.txt']);
  });

  it('nanosOf reads rclone\'s times to the nanosecond, with any offset', () => {
    assert.equal(nanosOf('2026-12-02T22:55:40.123456789Z'), BigInt(Date.parse('2026-12-02T22:55:40Z')) * 1_000_000n + 123_456_789n);
    assert.equal(nanosOf('2026-12-02T23:55:40.5+01:00'), BigInt(Date.parse('2026-12-02T22:55:40Z')) * 1_000_000n + 500_000_000n);
    assert.equal(nanosOf('2026-12-02T22:55:40Z'), BigInt(Date.parse('2026-12-02T22:55:40Z')) * 1_000_000n);
    assert.equal(nanosOf('yesterday'), -1n);
  });

  it('a run that changed nothing lists nothing and writes nothing', async () => {
    await cache.saveListing('Work', '[]');
    const { rclone, calls } = fakeRemote(after);
    assert.deepEqual(await recordRun(context(rclone), plan, result(0, 0)), {});
    assert.equal(calls.length, 0);
  });
});

describe('dueForPrune: a prune after a run only when the policy would forget a run', () => {
  it('asks the remote nothing while every known run is kept; names the mapping once one is not', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-due-'));
    try {
      const cache = new ManifestCache(dir, remote);
      const save = async (runId: string, mapping: string) => {
        const m: RunManifest = { format: 1, runId, mapping, started: '', command: 'backup', status: 'complete', ended: '', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, files: {} };
        await cache.save(m, encodeManifest(m));
      };
      for (const id of ['20261201T100000Z', '20261201T110000Z', '20261201T120000Z']) await save(id, 'Work');
      await save('20261201T100000Z', 'Photos');
      assert.deepEqual(await dueForPrune(cache, ['Work', 'Photos'], { last: 3 }), []);
      assert.deepEqual(await dueForPrune(cache, ['Work', 'Photos'], { last: 2 }), ['Work']);
      // Three runs on one day: daily keeps only the newest of them.
      assert.deepEqual(await dueForPrune(cache, ['Work', 'Photos'], { daily: 7 }), ['Work']);
      assert.deepEqual(await dueForPrune(cache, ['Work'], { within: '30d' }), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('buildMirrorLookupArgs', () => {
  it('looks files up one at a time over SFTP (each parallel lookup is an SSH connection), more for many files; rclone\'s default elsewhere', () => {
    const checkers = (storageType: string, count: number) => {
      const args = buildMirrorLookupArgs('/c', 'r:b/W', '/list', count, storageType);
      assert.deepEqual(args.slice(args.indexOf('--files-from-raw'), args.indexOf('--no-traverse') + 1), ['--files-from-raw', '/list', '--no-traverse']);
      const at = args.indexOf('--checkers');
      return at < 0 ? [] : args.slice(at, at + 2);
    };
    assert.deepEqual(checkers('sftp', 100), ['--checkers', '1']);
    assert.deepEqual(checkers('sftp', 1000), ['--checkers', '5']);
    assert.deepEqual(checkers('sftp', 100_000), ['--checkers', '8']);
    assert.deepEqual(checkers('s3', 100), []);
  });
});

describe('withKnownHashes', () => {
  it('keeps a file\'s hash while its size and time are unchanged, drops it otherwise', () => {
    const before: TreeState = { 'a': { size: 1, mtime: 5, md5: 'aa' }, 'b': { size: 2, mtime: 5, md5: 'bb' }, 'c': { size: 3, mtime: 5 } };
    const listed: TreeState = { 'a': { size: 1, mtime: 5 }, 'b': { size: 2, mtime: 6 }, 'c': { size: 3, mtime: 5 }, 'd': { size: 4, mtime: 5 } };
    assert.deepEqual(withKnownHashes(listed, before), copyDict({ 'a': { size: 1, mtime: 5, md5: 'aa' }, 'b': { size: 2, mtime: 6 }, 'c': { size: 3, mtime: 5 }, 'd': { size: 4, mtime: 5 } }));
    assert.equal(withKnownHashes(listed, undefined), listed);
  });
});

describe('ManifestCache: what this machine remembers of a remote, per storage', () => {
  it('after the names were pointed at other storage, a run still going on the old one writes where the new one never reads', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-cache-'));
    try {
      const on = (target: string) => ({ ...remote, section: { name: 'poof-backup', values: { type: 'alias', remote: target }, line: 1 } }) as unknown as ResolvedRemote;
      const record = (runId: string): RunManifest => ({ format: 1, runId, mapping: 'Work', started: '2026-12-01T10:00:00.000Z', command: 'backup', status: 'complete', ended: '2026-12-01T10:00:01.000Z', counts: { added: 1, changed: 0, deleted: 0, keptBytes: 0 }, files: copyDict({ 'a.txt': { size: 1, mtime: T } }) });
      const old = new ManifestCache(dir, on('/srv/x'));
      await old.started('20261201T100000Z');
      // `poof cconfig --force` to other storage, then `poof verify` or a backup there.
      const other = new ManifestCache(dir, on('/srv/y'));
      assert.deepEqual(await other.runIds(), [], 'nothing of the old storage');
      // The run on the old storage goes on and records its run.
      await old.save(record('20261201T100000Z'), encodeManifest(record('20261201T100000Z')));
      await old.saveListing('Work', '[]');
      const later = new ManifestCache(dir, on('/srv/y'));
      assert.deepEqual(await later.runIds(), []);
      assert.equal(await later.latestId('Work'), undefined);
      assert.equal(await later.lastListing('Work'), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('readRunNames: what a prune reads of each run', () => {
  it('takes the names cached beside each record, reads the rest once (a cut-short one counts as unfinished), and caches their names', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-names-'));
    try {
      const cache = new ManifestCache(dir, remote);
      const record = (runId: string, files?: TreeState): RunManifest => ({
        format: 1, runId, mapping: 'Work', status: files ? 'complete' : 'incomplete', started: '', ended: '', command: 'backup', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, ...(files ? { files } : {}),
      });
      const one = record('20261201T000000Z', { 'a.txt': { size: 1, mtime: T }, 'b/c.txt': { size: 2, mtime: T } });
      const two = record('20261202T000000Z');
      await cache.save(one, encodeManifest(one));
      await cache.save(two, encodeManifest(two));
      // On the remote only: a complete record, and one cut short by a laptop that died writing it.
      const three = record('20261203T000000Z', { 'd.txt': { size: 4, mtime: T } });
      const onRemote = new Map([
        ['20261203T000000Z/Work.run.json.gz', encodeManifest(three)],
        ['20261204T000000Z/Work.run.json.gz', encodeManifest(three).subarray(0, 10)],
      ]);
      const fetched: string[][] = [];
      const rclone: Rclone = {
        bin: '/fake/rclone',
        version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
        async run(args: string[]): Promise<RcloneResult> {
          assert.equal(args[0], 'copy', `unexpected rclone ${args.join(' ')}`);
          const wanted = (await readFile(args[args.indexOf('--files-from-raw') + 1]!, 'utf8')).split('\n').filter(Boolean);
          fetched.push(wanted);
          for (const file of wanted) {
            await mkdir(path.dirname(path.join(args[2]!, file)), { recursive: true });
            await writeFile(path.join(args[2]!, file), onRemote.get(file)!);
          }
          return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
        },
      };
      const ids = ['20261201T000000Z', '20261202T000000Z', '20261203T000000Z', '20261204T000000Z'];
      const first = await readRunNames(rclone, remote, cache, 'Work', ids);
      assert.deepEqual(first, [
        { runId: ids[0], names: ['a.txt', 'b/c.txt'] },
        { runId: ids[1] },
        { runId: ids[2], names: ['d.txt'] },
        { runId: ids[3] },
      ]);
      assert.deepEqual(fetched, [[`${ids[2]}/Work.run.json.gz`, `${ids[3]}/Work.run.json.gz`]], 'only the records not cached are fetched, in one call');
      assert.deepEqual(await readRunNames(rclone, remote, cache, 'Work', ids), first);
      assert.deepEqual(fetched.slice(1), [[`${ids[3]}/Work.run.json.gz`]], 'the cut-short record is not cached: asked again next time');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
