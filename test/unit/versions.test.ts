import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeManifest, diffStates, encodeManifest, type RunManifest, type TreeState } from '../../src/versions/manifest.js';
import { pickSample } from '../../src/versions/drill.js';
import { namesOfRun, parseDuration, planPrune, selectKept } from '../../src/versions/retention.js';
import { runIdFor, timeOfRunId } from '../../src/versions/run-id.js';
import { stateAfter, versionsOf, type KeptVersions } from '../../src/versions/state.js';
import { parseWhen, pickRun } from '../../src/versions/when.js';
import { seeded } from '../helpers/seeded.js';
import { readFileSync } from 'node:fs';
import type { Rclone, RcloneResult } from '../../src/rclone/runner.js';
import type { ResolvedRemote } from '../../src/rclone/remote.js';
import { applyPrune, listingWithout, planMappingPrune } from '../../src/versions/prune.js';
import { totalsOf } from '../../src/versions/store.js';
import { stoppedPrune } from '../../src/run/prune-history.js';
import { copyDict } from '../../src/dict.js';


/**
 * A model of the remote under rclone sync --backup-dir: the mirror, and per run a folder that
 * receives the version of every file the run replaces or deletes. Contents are strings, so a
 * reconstruction can be compared exactly.
 */
class ModelRemote {
  mirror = new Map<string, string>();
  folders = new Map<string, Map<string, string>>();
  manifests: RunManifest[] = [];

  backup(runId: string, local: Map<string, string>, complete = true): void {
    const folder = new Map<string, string>();
    for (const [file, content] of this.mirror) {
      if (local.get(file) !== content) folder.set(file, content);
    }
    for (const file of folder.keys()) this.mirror.delete(file);
    for (const [file, content] of local) this.mirror.set(file, content);
    if (folder.size > 0) this.folders.set(runId, folder);
    const files: TreeState = {};
    for (const [file, content] of local) files[file] = { size: content.length, mtime: hash(content) };
    this.manifests.push({
      format: 1,
      runId,
      mapping: 'M',
      status: complete ? 'complete' : 'incomplete',
      started: timeOfRunId(runId).toISOString(),
      ended: timeOfRunId(runId).toISOString(),
      command: 'backup',
      counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 },
      ...(complete ? { files } : {}),
    });
  }

  kept(): KeptVersions {
    return new Map([...this.folders].map(([id, files]) => [id, new Map([...files].map(([f, c]) => [f, c.length]))]));
  }

  /** Read back the tree after a run the way a restore does. */
  restore(manifest: RunManifest): Map<string, string> {
    const out = new Map<string, string>();
    for (const file of stateAfter(manifest, this.kept())) {
      const content = file.from ? this.folders.get(file.from)?.get(file.path) : this.mirror.get(file.path);
      assert.ok(content !== undefined, `${file.path} of run ${manifest.runId} is stored in ${file.from ?? 'the mirror'}`);
      out.set(file.path, content);
    }
    return out;
  }
}

const hash = (text: string) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);

function randomRuns(seed: number, count: number) {
  const random = seeded(seed);
  const remote = new ModelRemote();
  const local = new Map<string, string>();
  const truth = new Map<string, Map<string, string>>();
  let time = Date.UTC(2026, 0, 1, 9);
  const names = Array.from({ length: 12 }, (_, i) => `d${i % 3}/f${i}.txt`);
  for (let run = 0; run < count; run++) {
    const edits = 1 + Math.floor(random() * 4);
    for (let e = 0; e < edits; e++) {
      const name = names[Math.floor(random() * names.length)]!;
      const action = random();
      if (action < 0.45) local.set(name, `${name} v${run}.${e} ${'x'.repeat(Math.floor(random() * 5))}`);
      else if (action < 0.7) local.delete(name);
      else {
        // A rename: the content moves to another name.
        const other = names[Math.floor(random() * names.length)]!;
        const content = local.get(name);
        if (content !== undefined && other !== name) {
          local.delete(name);
          local.set(other, content);
        }
      }
    }
    time += Math.floor(random() * 3 * 86_400_000) + 3_600_000;
    const id = runIdFor(new Date(time));
    const complete = random() > 0.15;
    remote.backup(id, local, complete);
    if (complete) truth.set(id, new Map(local));
  }
  return { remote, truth };
}

describe('run ids', () => {
  it('are UTC seconds, sort by time, and never repeat or go back', () => {
    assert.equal(runIdFor(new Date('2026-12-02T15:12:33.900Z')), '20261202T151233Z');
    assert.equal(timeOfRunId('20261202T151233Z').toISOString(), '2026-12-02T15:12:33.000Z');
    assert.equal(runIdFor(new Date('2026-12-02T15:12:33.100Z'), ['20261202T151233Z']), '20261202T151234Z');
    assert.equal(runIdFor(new Date('2026-12-01T00:00:00Z'), ['20261202T151233Z', 'junk']), '20261202T151234Z', 'a clock set back');
  });
});

describe('--at', () => {
  const now = new Date(2026, 10, 25, 12, 0, 0);
  it('reads run ids, local dates and times, UTC times and ages', () => {
    assert.deepEqual(parseWhen('20261120T130000Z', now), { kind: 'run', id: '20261120T130000Z' });
    assert.deepEqual(parseWhen('2026-11-20', now), { kind: 'time', at: new Date(2026, 10, 20, 23, 59, 59, 999) });
    assert.deepEqual(parseWhen('2026-11-20T14:00', now), { kind: 'time', at: new Date(2026, 10, 20, 14, 0, 0, 999) });
    assert.deepEqual(parseWhen('2026-11-20 14:00:30', now), { kind: 'time', at: new Date(2026, 10, 20, 14, 0, 30, 999) });
    assert.deepEqual(parseWhen('2026-11-20T14:00:00Z', now), { kind: 'time', at: new Date('2026-11-20T14:00:00Z') });
    assert.deepEqual(parseWhen('3d', now), { kind: 'time', at: new Date(now.getTime() - 3 * 86_400_000) });
    assert.deepEqual(parseWhen('12h', now), { kind: 'time', at: new Date(now.getTime() - 12 * 3_600_000) });
  });
  it('refuses what is not a time', () => {
    for (const bad of ['', 'yesterday', '2026-02-30', '2026-11-20T25:00', '3 days', '-3d', '20261120T1300Z']) assert.equal(parseWhen(bad, now), undefined, bad);
  });
  it('picks the last complete run at or before the time; an incomplete one only by its id', () => {
    const runs = [
      { id: '20261118T090000Z', complete: true },
      { id: '20261119T090000Z', complete: false },
      { id: '20261120T090000Z', complete: true },
    ];
    assert.equal(pickRun({ kind: 'time', at: new Date('2026-11-19T23:00:00Z') }, runs), '20261118T090000Z');
    assert.equal(pickRun({ kind: 'time', at: new Date('2026-11-20T09:00:00Z') }, runs), '20261120T090000Z');
    assert.equal(pickRun({ kind: 'time', at: new Date('2026-11-17T00:00:00Z') }, runs), undefined);
    assert.equal(pickRun({ kind: 'run', id: '20261119T090000Z' }, runs), '20261119T090000Z');
    assert.equal(pickRun({ kind: 'run', id: '20261121T090000Z' }, runs), undefined);
  });
});

describe('run manifests', () => {
  it('round-trip through their stored form, and a foreign file is refused', () => {
    const manifest: RunManifest = {
      format: 1,
      runId: '20261202T151233Z',
      mapping: 'Docs',
      status: 'complete',
      started: '2026-12-02T15:12:33.000Z',
      ended: '2026-12-02T15:12:40.000Z',
      command: 'backup',
      counts: { added: 1, changed: 0, deleted: 0, keptBytes: 0 },
      files: { 'a.txt': { size: 2, mtime: 1700000000000, mode: 0o644 } },
    };
    assert.deepEqual(decodeManifest(encodeManifest(manifest)), { ...manifest, files: copyDict(manifest.files!) });
    assert.throws(() => decodeManifest(gzipSync(Buffer.from('{"hello":1}'))), /not a poof run manifest/);
    assert.throws(() => decodeManifest(gzipSync(Buffer.from(JSON.stringify({ ...manifest, files: undefined })))), /without its files/);
  });
  it('diff: added, changed (size, time or mode) and deleted', () => {
    const before: TreeState = { a: { size: 1, mtime: 1 }, b: { size: 1, mtime: 1, mode: 0o644 }, c: { size: 1, mtime: 1 }, d: { size: 1, mtime: 1 } };
    const after: TreeState = { a: { size: 1, mtime: 1 }, b: { size: 1, mtime: 1, mode: 0o600 }, c: { size: 2, mtime: 1 }, e: { size: 1, mtime: 1 } };
    assert.deepEqual(diffStates(before, after), { added: ['e'], changed: ['b', 'c'], deleted: ['d'] });
    assert.deepEqual(diffStates(before, after, ['c', 'd', 'e', 'a', 'c']), { added: ['e'], changed: ['c'], deleted: ['d'] }, 'among the paths given alone, each once');
  });
});

describe('the tree after any run, rebuilt from the mirror and the folders of replaced versions', () => {
  it('40 seeded runs of edits, deletes, renames and adds (some incomplete): every complete run comes back exactly', () => {
    for (const seed of [1, 2, 3, 20261202]) {
      const { remote, truth } = randomRuns(seed, 40);
      for (const manifest of remote.manifests.filter((m) => m.files)) {
        assert.deepEqual(remote.restore(manifest), truth.get(manifest.runId), `seed ${seed}, run ${manifest.runId}`);
      }
    }
  });

  it('versions of one file after a prune stopped between its records and its versions: a version left behind is not given to the kept run before it', () => {
    const remote = new ModelRemote();
    remote.backup('20261101T000000Z', new Map([['a', 'one']]));
    remote.backup('20261102T000000Z', new Map([['a', 'two']]));
    remote.backup('20261103T000000Z', new Map([['a', 'three']]));
    remote.backup('20261104T000000Z', new Map([['a', 'four!']]));
    // Runs 2 and 3 no longer kept: their records went; 3's folder (run 2's "two") was next.
    remote.manifests = remote.manifests.filter((m) => m.runId === '20261101T000000Z' || m.runId === '20261104T000000Z');
    const versions = versionsOf('a', remote.manifests, remote.kept(), { size: 5, mtime: 4 });
    assert.deepEqual(
      versions.map((v) => [v.since, v.replacedBy, v.size]),
      [
        ['20261104T000000Z', undefined, 5],
        [undefined, '20261104T000000Z', 5],
        [undefined, '20261103T000000Z', 3],
        ['20261101T000000Z', '20261102T000000Z', 3],
      ],
    );
  });

  it('versions of one file after a killed run: the newest record\'s state keeps its run and time', () => {
    const remote = new ModelRemote();
    remote.backup('20261101T000000Z', new Map([['a', 'one']]));
    remote.backup('20261102T000000Z', new Map([['a', 'five!']]));
    remote.backup('20261103T000000Z', new Map([['a', 'new']]), false);
    const newest = remote.manifests.filter((m) => m.files).at(-1)!;
    const versions = versionsOf('a', remote.manifests, remote.kept(), newest.files!.a);
    assert.deepEqual(versions.map((v) => [v.since, v.replacedBy, v.size]).slice(0, 2), [
      ['20261102T000000Z', undefined, 5],
      ['20261102T000000Z', '20261103T000000Z', 5],
    ]);
  });

  it('versions of one file: the mirror first, then each replaced version, newest first', () => {
    const remote = new ModelRemote();
    remote.backup('20261101T000000Z', new Map([['a', 'one']]));
    remote.backup('20261102T000000Z', new Map([['a', 'two!']]));
    remote.backup('20261103T000000Z', new Map());
    remote.backup('20261104T000000Z', new Map([['a', 'four!!']]));
    const versions = versionsOf('a', remote.manifests, remote.kept(), { size: 6, mtime: 4 });
    assert.deepEqual(
      versions.map((v) => [v.since, v.replacedBy, v.size]),
      [
        ['20261104T000000Z', undefined, 6],
        ['20261102T000000Z', '20261103T000000Z', 4],
        ['20261101T000000Z', '20261102T000000Z', 3],
      ],
    );
  });
});

describe('retention', () => {
  const day = (d: number, h = 9) => runIdFor(new Date(Date.UTC(2026, 0, d, h)));
  const utc = () => 0;

  it('keeps the last N, the newest of each day, week and month, and everything within a duration', () => {
    const runs = [day(1), day(1, 18), day(2), day(5), day(9), day(20), day(31), day(32), day(33, 8), day(33, 20)];
    assert.deepEqual([...selectKept(runs, { last: 2 }, utc).keys()].sort(), [day(33, 8), day(33, 20)]);
    assert.deepEqual([...selectKept(runs, { daily: 3 }, utc).keys()].sort(), [day(31), day(32), day(33, 20)]);
    // ISO weeks of 2026: Jan 19-25 (W04), Jan 26-Feb 1 (W05: Jan 31 and Feb 1), Feb 2-8 (W06).
    assert.deepEqual([...selectKept(runs, { weekly: 3 }, utc).keys()].sort(), [day(20), day(32), day(33, 20)]);
    assert.deepEqual([...selectKept(runs, { monthly: 2 }, utc).keys()].sort(), [day(31), day(33, 20)]);
    assert.deepEqual([...selectKept(runs, { within: '2d' }, utc).keys()].sort(), [day(32), day(33, 8), day(33, 20)]);
    assert.deepEqual([...selectKept(runs, {}, utc).keys()], [day(33, 20)], 'the newest is always kept');
    assert.deepEqual(selectKept(runs, { last: 1, daily: 1 }, utc).get(day(33, 20)), ['newest', 'last', 'daily']);
  });

  it('durations', () => {
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('8w'), 8 * 604_800_000);
    assert.equal(parseDuration('thirty days'), undefined);
  });

  it('prune removes exactly the versions no kept run needs: every kept run still comes back, nothing else is stored', () => {
    for (const seed of [5, 6, 7]) {
      const { remote, truth } = randomRuns(seed, 40);
      const complete = remote.manifests.filter((m) => m.files).map((m) => m.runId);
      const keep = new Set(selectKept(complete, { last: 3, weekly: 2 }, utc).keys());
      const plan = planPrune(remote.manifests.map(namesOfRun), remote.kept(), keep);
      const before = [...remote.folders.values()].reduce((n, f) => n + f.size, 0);
      let freed = 0;
      for (const [id, files] of plan.versions) {
        for (const file of files) {
          freed += remote.folders.get(id)!.get(file)!.length;
          remote.folders.get(id)!.delete(file);
        }
        if (remote.folders.get(id)!.size === 0) remote.folders.delete(id);
      }
      assert.equal(plan.freedBytes, freed);
      assert.equal(plan.removedFiles, before - [...remote.folders.values()].reduce((n, f) => n + f.size, 0));
      assert.deepEqual(plan.emptiedRuns.filter((id) => remote.folders.has(id)), [], `seed ${seed}: emptied runs are gone`);
      for (const id of keep) {
        const manifest = remote.manifests.find((m) => m.runId === id)!;
        assert.deepEqual(remote.restore(manifest), truth.get(id), `seed ${seed}: kept run ${id} after the prune`);
      }
      // Minimal: each stored version left is needed by some kept run.
      for (const [id, files] of remote.folders) {
        for (const file of files.keys()) {
          const user = [...keep].some((k) => {
            const m = remote.manifests.find((x) => x.runId === k)!;
            return stateAfter(m, remote.kept()).some((f) => f.path === file && f.from === id);
          });
          assert.ok(user, `seed ${seed}: ${id}/${file} is kept but no kept run needs it`);
        }
      }
      assert.ok(plan.records.every((id) => !keep.has(id)), 'records of kept runs stay');
      assert.ok(plan.removedFiles > 0, `seed ${seed}: the policy removed something`);
    }
  });
});

describe('a prune stopped at any moment', () => {
  /**
   * rclone as the model sees it: each `delete` removes the listed paths below .poof-history in
   * a seeded random order (rclone deletes with several checkers at once), and the run is killed
   * after `budget` deletions in all.
   */
  function killedAfter(remote: ModelRemote, random: () => number, budget: number, stop: AbortController): Rclone {
    let left = budget;
    const ok: RcloneResult = { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    const fake = {
      bin: '/model/rclone',
      version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
      async run(args: string[]): Promise<RcloneResult> {
        if (args[0] === 'rmdirs') return ok;
        assert.equal(args[0], 'delete');
        const listed = readFileSync(args[args.indexOf('--files-from-raw') + 1]!, 'utf8').split('\n').filter(Boolean);
        const order = listed.map((file) => [random(), file] as const).sort((a, b) => a[0] - b[0]).map(([, file]) => file);
        for (const file of order) {
          if (left-- <= 0) {
            stop.abort();
            return { exitCode: -1, stdout: '', stderr: '', timedOut: false, signal: 'SIGINT' };
          }
          const [runId, rest] = [file.slice(0, file.indexOf('/')), file.slice(file.indexOf('/') + 1)];
          if (rest === 'M.run.json.gz') remote.manifests = remote.manifests.filter((m) => m.runId !== runId);
          else remote.folders.get(runId)?.delete(rest.slice('M/'.length));
        }
        return ok;
      },
    };
    return fake;
  }

  it('leaves every run that still has a record whole: records go first, versions only after', async () => {
    const remoteConfig = { root: 'poof-backup:b', configFile: '/c' } as unknown as ResolvedRemote;
    for (const seed of [11, 12, 13, 14]) {
      const first = randomRuns(seed, 30);
      const plan = planMappingPrune('M', first.remote.manifests.map(namesOfRun), first.remote.kept(), { last: 3 });
      const total = plan.delete.length;
      assert.ok(plan.forgotten.length > 5 && plan.removedVersions > 5, `seed ${seed}: a prune with something to do`);
      for (let budget = 0; budget <= total; budget++) {
        const { remote, truth } = randomRuns(seed, 30);
        const stop = new AbortController();
        const rclone = killedAfter(remote, seeded(seed * 1000 + budget), budget, stop);
        const finished = await applyPrune(rclone, remoteConfig, [plan], stop.signal).then(() => true, () => false);
        assert.equal(finished, budget === total, `seed ${seed}, killed after ${budget} of ${total} deletions`);
        for (const manifest of remote.manifests.filter((m) => m.files)) {
          assert.deepEqual(remote.restore(manifest), truth.get(manifest.runId), `seed ${seed}, killed after ${budget} of ${total}: run ${manifest.runId} still has its record, so it comes back whole`);
        }
      }
    }
  });
});

describe('what a prune leaves, as poof status shows it', () => {
  it('the listing less the records and versions deleted; a prune stopped partway says which runs went', () => {
    const listing = {
      manifests: new Map([['Work', ['20260101T090000Z', '20260102T090000Z', '20260103T090000Z']], ['Photos', ['20260102T090000Z']]]),
      kept: new Map([['Work', new Map([['20260102T090000Z', new Map([['a.txt', 5], ['d/b.txt', 7]])], ['20260103T090000Z-2', new Map([['a.txt', 3]])]])]]),
    };
    const left = listingWithout(listing, ['20260101T090000Z/Work.run.json.gz', '20260102T090000Z/Work/d/b.txt', '20260103T090000Z-2/Work/a.txt']);
    assert.deepEqual(left.manifests.get('Work'), ['20260102T090000Z', '20260103T090000Z']);
    assert.deepEqual(left.manifests.get('Photos'), ['20260102T090000Z'], 'another mapping\'s run of the same id stays');
    assert.deepEqual([...left.kept.get('Work')!].map(([id, files]) => [id, [...files.keys()]]), [['20260102T090000Z', ['a.txt']]]);
    const totals = totalsOf(left, new Date('2026-01-04T00:00:00Z'));
    assert.deepEqual([totals.runs, totals.versions, totals.bytes, totals.oldest], [3, 1, 5, '20260102T090000Z']);
    assert.equal(listing.manifests.get('Work')!.length, 3, 'the listing itself is left as it was');
    const plan = { name: 'Work', kept: new Map(), forgotten: ['20260101T090000Z'], delete: [], freedBytes: 0, removedVersions: 0 };
    assert.match(stoppedPrune([plan], 'records'), /stopped while removing the records of the runs no longer kept \(Work: 20260101T090000Z\): some of them may be gone; every run `poof history` still lists restores whole/);
    assert.match(stoppedPrune([plan], 'versions'), /stopped after removing the records of the runs no longer kept \(Work: 20260101T090000Z\), which are no longer restorable, while removing the versions no kept run needs/);
    // Versions an earlier stopped prune left, and no record to remove: none is said to have gone.
    assert.equal(stoppedPrune([{ ...plan, forgotten: [] }], 'versions'), 'the prune stopped while removing the versions no kept run needs: every run `poof history` lists restores whole, and the next prune removes the rest');
  });
});

describe('restore drill samples', () => {
  const files = Array.from({ length: 200 }, (_, i) => ({ path: `f${String(i).padStart(3, '0')}`, size: i, mtime: 0 }));
  it('a share of the files, at least five, all of them when fewer; sorted; another choice each time', () => {
    assert.equal(pickSample(files, { kind: 'percent', percent: 3 }).length, 6);
    assert.equal(pickSample(files.slice(0, 40), { kind: 'percent', percent: 3 }).length, 5);
    assert.equal(pickSample(files.slice(0, 3), { kind: 'percent', percent: 3 }).length, 3);
    assert.equal(pickSample(files, { kind: 'full' }).length, 200);
    const one = pickSample(files, { kind: 'percent', percent: 3 }, seededInt(1));
    assert.deepEqual(one.map((f) => f.path), [...one.map((f) => f.path)].sort());
    assert.equal(new Set(one.map((f) => f.path)).size, 6, 'no file twice');
    assert.notDeepEqual(one, pickSample(files, { kind: 'percent', percent: 3 }, seededInt(2)));
  });
});

function seededInt(seed: number): (n: number) => number {
  const random = seeded(seed);
  return (n) => Math.floor(random() * n);
}

describe('a run with several rclone passes (a retry, a re-send)', () => {
  it('keeps each pass in a folder of its own; earlier runs find the version they saw, the run itself the mirror', () => {
    const manifest = (runId: string, files: TreeState): RunManifest => ({
      format: 1, runId, mapping: 'M', status: 'complete', started: '', ended: '', command: 'backup', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, files,
    });
    const prev = manifest('20261201T000000Z', { g: { size: 4, mtime: 1 } });
    const run = manifest('20261202T000000Z', { g: { size: 6, mtime: 3 } });
    // Pass 1 replaced g (4 B) and kept it in the run's folder; pass 2 replaced the 5 B g it had sent.
    const kept: KeptVersions = new Map([
      ['20261202T000000Z', new Map([['g', 4]])],
      ['20261202T000000Z-2', new Map([['g', 5]])],
    ]);
    assert.deepEqual(stateAfter(prev, kept).map((f) => [f.path, f.from]), [['g', '20261202T000000Z']]);
    assert.deepEqual(stateAfter(run, kept).map((f) => [f.path, f.from]), [['g', undefined]]);
    const plan = planPrune([prev, run].map(namesOfRun), kept, new Set([prev.runId, run.runId]));
    assert.deepEqual([...plan.versions], [['20261202T000000Z-2', ['g']]], 'the intermediate version no run saw can go');
  });
});
