import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { EngineEvent, MappingEvent } from '../../src/engine/events.js';
import type { MappingPlan } from '../../src/engine/plan.js';
import { runAll } from '../../src/engine/run-all.js';
import { runMapping, runMappingRetryingChanged } from '../../src/engine/run-mapping.js';
import { findTypeClashes, looksBeforeWriting, mayClash } from '../../src/engine/type-clash.js';
import { buildSyncArgs, type SyncArgsInput } from '../../src/rclone/args.js';
import type { TransferResult } from '../../src/engine/result.js';
import { uploadMapping } from '../../src/upload/run-upload.js';
import { loadRecording, recordedRclone, withRepeatedFileLines, type RecordedRun } from '../helpers/recorded-rclone.js';

const plan = (name: string, extra: Partial<MappingPlan> = {}): MappingPlan => ({
  name,
  localDir: `/home/joe/${name}`,
  remotePath: `r:b/${name}`,
  args: ['sync', `/home/joe/${name}`, `r:b/${name}`],
  stallMs: 30_000,
  ...extra,
});

function hooks(dryRun = false, cancel = new AbortController()) {
  const events: MappingEvent[] = [];
  const log: string[] = [];
  return { events, log, hooks: { emit: (e: MappingEvent) => events.push(e), log: (l: string) => log.push(l), cancelSignal: cancel.signal, dryRun } };
}

describe('runMapping, replaying real rclone 1.60 runs', () => {
  it('counts each file rclone copied or deleted once, and keeps its final stats', async () => {
    const rclone = recordedRclone([loadRecording('sync')]);
    const h = hooks();
    const result = await runMapping(rclone, plan('Docs'), h.hooks);
    assert.deepEqual([result.status, result.copied, result.deleted, result.stats?.bytes, result.rcloneExit], ['ok', 2, 1, 8, 0]);
    assert.deepEqual(rclone.calls, [plan('Docs').args]);
    assert.match(h.log[0]!, /^# .* Docs: rclone sync \/home\/joe\/Docs r:b\/Docs$/);
    assert.ok(h.events.some((e) => e.type === 'progress'));
  });

  it('counts the same when a newer rclone logs each file twice', async () => {
    const result = await runMapping(recordedRclone([withRepeatedFileLines(loadRecording('sync'))]), plan('Docs'), hooks().hooks);
    assert.deepEqual([result.copied, result.deleted], [2, 1]);
  });

  it('counts neither directories (rclone 1.75 logs their metadata) nor a time set on an identical file', async () => {
    const sync = loadRecording('sync');
    const extra = [
      '{"level":"info","msg":"Updated directory metadata","object":"sub","objectType":"*local.Directory","source":"operations/operations.go:2645","time":"2026-11-25T09:00:00Z"}',
      '{"level":"info","msg":"Updated modification time in destination","object":"sub/b.txt","objectType":"*local.Object","source":"operations/operations.go:253","time":"2026-11-25T09:00:00Z"}',
    ].join('\n');
    const result = await runMapping(recordedRclone([{ ...sync, stderr: `${extra}\n${sync.stderr}` }]), plan('Docs'), hooks().hooks);
    assert.deepEqual([result.copied, result.deleted], [2, 1]);
  });

  it('a dry run counts and lists what it would copy and delete', async () => {
    const h = hooks(true);
    const result = await runMapping(recordedRclone([loadRecording('sync-dry-run')]), plan('Docs'), h.hooks);
    assert.deepEqual([result.status, result.copied, result.deleted], ['ok', 2, 1]);
    const planned = h.events.filter((e) => e.type === 'planned').map((e) => e.type === 'planned' && `${e.action} ${e.object}`);
    assert.deepEqual(planned, ['copy c.txt', 'copy a.txt', 'delete stale.txt']);
  });

  it('a failed rclone is a failed mapping that says why, with rclone\'s errors', async () => {
    const h = hooks();
    const result = await runMapping(recordedRclone([loadRecording('sync-missing-source')]), plan('Docs'), h.hooks);
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /^rclone exited 3: /);
    assert.match(result.errors[0] ?? '', /directory not found/);
    assert.ok(h.events.some((e) => e.type === 'rclone-error'));
  });

  it('a refused plan never runs rclone', async () => {
    const rclone = recordedRclone([]);
    const result = await runMapping(rclone, plan('Docs', { refusal: 'the local directory holds no files' }), hooks().hooks);
    assert.deepEqual([result.status, result.reason, rclone.calls.length], ['refused', 'the local directory holds no files', 0]);
  });

  it('an interruption stops rclone and is said to be one', async () => {
    const cancel = new AbortController();
    cancel.abort();
    const result = await runMapping(recordedRclone([loadRecording('sync')]), plan('Docs'), hooks(false, cancel).hooks);
    assert.equal(result.status, 'failed');
    assert.equal(result.reason, 'interrupted: rclone was stopped before it finished');
  });
});

describe('runAll', () => {
  it('runs every mapping in order; a failure does not stop the next; events tell start and end', async () => {
    const rclone = recordedRclone([loadRecording('sync-missing-source'), loadRecording('sync')]);
    const events: Array<EngineEvent<TransferResult>> = [];
    const cancel = new AbortController();
    const h = hooks(false, cancel);
    const outcome = await runAll([plan('A'), plan('B')], (p) => runMapping(rclone, p, h.hooks), { cancelSignal: cancel.signal, emit: (e) => events.push(e) });
    assert.deepEqual(outcome.results.map((r) => `${r.name} ${r.status}`), ['A failed', 'B ok']);
    assert.deepEqual(outcome.notRun, []);
    assert.deepEqual(events.map((e) => (e.type === 'start' ? `start ${e.plan.name}` : e.type === 'end' ? `end ${e.result.name}` : e.type)), ['start A', 'end A', 'start B', 'end B']);
  });

  it('after an interruption nothing else starts', async () => {
    const rclone = recordedRclone([loadRecording('sync')]);
    const cancel = new AbortController();
    const events: string[] = [];
    const outcome = await runAll(
      [plan('A'), plan('B'), plan('C')],
      async (p) => {
        const result = await runMapping(rclone, p, hooks(false, cancel).hooks);
        cancel.abort();
        return result;
      },
      { cancelSignal: cancel.signal, emit: (e) => events.push(e.type === 'not-started' ? `not started ${e.name}` : e.type) },
    );
    assert.deepEqual(outcome.results.map((r) => r.name), ['A']);
    assert.deepEqual(outcome.notRun, ['B', 'C']);
    assert.deepEqual(events, ['start', 'end', 'not started B', 'not started C']);
    assert.equal(rclone.calls.length, 1);
  });
});

describe('upload proof', () => {
  it('falls back to downloading and comparing bytes when no hash is shared, and trusts only that', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-proof-'));
    try {
      for (const name of ['a.txt', 'c.txt']) await writeFile(path.join(dir, name), 'x');
      const rclone = recordedRclone([loadRecording('sync'), loadRecording('check-no-hash'), loadRecording('check-download')]);
      const settings = { proof: { configFile: '/c' }, crypt: false, wipeMode: 'trash' as const, symlinks: 'follow' as const, dryRun: true };
      const result = await uploadMapping(rclone, plan('Arch', { localDir: dir }), settings, hooks(true).hooks, async () => {
        throw new Error('a dry run wipes nothing');
      });
      assert.equal(result.status, 'ok');
      assert.equal(result.upload?.method, 'download');
      assert.equal(result.upload?.proven, 1, 'only sub/b.txt is identical byte for byte; the size-only check passed a.txt too');
      assert.ok(result.upload?.keptFiles.some((k) => k.path === 'a.txt' && k.reason === 'differs from the remote copy'));
      assert.deepEqual(rclone.calls.map((args) => [args[0], args.includes('--download')]), [['sync', false], ['check', false], ['check', true]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('wipes nothing when the copy failed', async () => {
    const rclone = recordedRclone([loadRecording('sync-missing-source')]);
    const settings = { proof: { configFile: '/c' }, crypt: false, wipeMode: 'delete' as const, symlinks: 'follow' as const, dryRun: false };
    const result = await uploadMapping(rclone, plan('Arch'), settings, hooks().hooks, async () => {
      throw new Error('nothing may be wiped');
    });
    assert.equal(result.status, 'failed');
    assert.match(result.reason ?? '', /; nothing was wiped$/);
    assert.equal(result.upload, undefined);
    assert.equal(rclone.calls.length, 1, 'no proof after a failed copy');
  });
});

describe('a name that is a file here and a folder on the remote, or the reverse (replaying real rclone 1.60 runs)', () => {
  const settings = { configFile: '/c/rclone-poof.conf', backendType: 'local', crypt: false, tuning: {}, keepsModes: true, symlinks: 'follow' as const };
  const clashPlan = (extra: Partial<SyncArgsInput> = {}, copyOnly = false): MappingPlan => {
    const syncInput: SyncArgsInput = { ...settings, source: '/home/joe/Docs', dest: 'r:b/Docs', ...extra, ...(copyOnly ? { copyOnly } : {}) };
    return { ...plan('Docs'), args: buildSyncArgs(syncInput), syncInput, ...(copyOnly ? { copyOnly } : {}) };
  };
  const ok = (args: string[]): RecordedRun => ({ version: 'rclone v1.60.1', args, exitCode: 0, stdout: '', stderr: '' });
  const lists = () => [loadRecording('lsjson-clash-local'), loadRecording('lsjson-clash-remote')];

  it('pure: finds each outermost clash, with the remote files it takes out of the mirror', () => {
    const parse = (name: string) => JSON.parse(loadRecording(name).stdout) as Array<{ Path: string; IsDir: boolean }>;
    assert.deepEqual(findTypeClashes(parse('lsjson-clash-local'), parse('lsjson-clash-remote')), [
      { path: 'was-file', remoteIsDir: false, files: ['was-file'] },
      { path: 'was-folder', remoteIsDir: true, files: ['was-folder/deep/x.txt', 'was-folder/y.txt'] },
    ]);
    assert.deepEqual(findTypeClashes([{ Path: 'a', IsDir: true }, { Path: 'b', IsDir: false }], [{ Path: 'a', IsDir: true }, { Path: 'c', IsDir: true }]), [], 'same kinds, or a name on one side only: no clash');
    // A link kept as a link is NAME.rclonelink on both sides, a name of its own.
    assert.deepEqual(findTypeClashes([{ Path: 'x.rclonelink', IsDir: false }], [{ Path: 'x', IsDir: true }, { Path: 'x/f', IsDir: false }]), []);
    // Who looks before writing when no record has: where a write over a clash does harm, or the server decides.
    assert.deepEqual(['webdav', 'sftp', 'alias', 'local', 's3'].map((backendType) => looksBeforeWriting({ backendType })), [true, true, false, false, false]);
  });

  it('history kept: the remote side is moved into the run\'s folder whole, then the sync runs again into a folder of its own', async () => {
    const history = 'r:b/.poof-history/20261204T100000Z/Docs';
    const rclone = recordedRclone([loadRecording('sync-type-clash'), ...lists(), ok([]), ok([]), ok([]), loadRecording('sync')]);
    const removed: string[] = [];
    const h = hooks();
    const result = await runMappingRetryingChanged(rclone, clashPlan({ backupDir: history }), { ...h.hooks, passFolder: () => `${history}-2`, removed: (file) => removed.push(file) });
    assert.equal(result.status, 'ok');
    const commands = rclone.calls.map((args) => args.slice(0, 3).join(' '));
    assert.deepEqual(commands.slice(1), [
      'lsjson /home/joe/Docs -R',
      'lsjson r:b/Docs -R',
      `moveto r:b/Docs/was-file ${history}/was-file`,
      `moveto r:b/Docs/was-folder ${history}/was-folder`,
      'rmdirs r:b/Docs/was-folder --config',
      'sync /home/joe/Docs r:b/Docs',
    ]);
    assert.ok(rclone.calls.at(-1)!.join(' ').includes(`--backup-dir ${history}-2`), 'the second pass keeps what it replaces in a folder of its own');
    assert.deepEqual(removed, ['was-file', 'was-folder/deep/x.txt', 'was-folder/y.txt']);
    assert.ok(h.log.some((line) => /was-folder is a file here and a folder on the remote: moved into this run's history folder, to make way/.test(line)));
  });

  it('history off: the remote side is deleted, as the sync would, counted whole; the next pass may delete only what is left of rclone.maxDelete', async () => {
    const rclone = recordedRclone([loadRecording('sync-type-clash'), ...lists(), loadRecording('lsjson-clash-remote-folder'), ok([]), ok([]), loadRecording('sync')]);
    const result = await runMappingRetryingChanged(rclone, clashPlan({ tuning: { maxDelete: 10 } }), hooks().hooks);
    assert.equal(result.status, 'ok');
    assert.equal(rclone.calls[3]!.slice(0, 2).join(' '), 'lsjson r:b/Docs/was-folder', 'the folder listed without the excludes');
    assert.equal(rclone.calls[3]!.includes('--exclude'), false);
    assert.deepEqual(rclone.calls.slice(4, 6).map((args) => args.slice(0, 2).join(' ')), ['deletefile r:b/Docs/was-file', 'purge r:b/Docs/was-folder']);
    const last = rclone.calls.at(-1)!;
    assert.equal(last[last.indexOf('--max-delete') + 1], String(10 - 3), '3 files deleted to make way');
    assert.equal(result.deleted, 1 + 3, 'the sync\'s own deletion and the three files cleared');
  });

  it('history off: a folder holding files the excludes leave out is not deleted (a sync never deletes those); the run fails, saying why', async () => {
    const folder = loadRecording('lsjson-clash-remote-folder');
    const withExcluded = { ...folder, stdout: JSON.stringify([...(JSON.parse(folder.stdout) as object[]), { Path: 'big.iso', Name: 'big.iso', Size: 9, IsDir: false }]) };
    const rclone = recordedRclone([loadRecording('sync-type-clash'), ...lists(), withExcluded]);
    const result = await runMappingRetryingChanged(rclone, clashPlan({ excludes: ['*.iso'] }), hooks().hooks);
    assert.equal(result.status, 'failed');
    assert.equal(rclone.calls.length, 4, 'the sync and three listings: nothing deleted');
    assert.match(result.reason ?? '', /was-folder is a file here and a folder on the remote that holds files the excludes leave out; with history off they would be deleted/);
  });

  it('history off and over rclone.maxDelete: nothing deleted, the backup fails, saying why', async () => {
    const rclone = recordedRclone([loadRecording('sync-type-clash'), ...lists(), loadRecording('lsjson-clash-remote-folder')]);
    const result = await runMappingRetryingChanged(rclone, clashPlan({ tuning: { maxDelete: 2 } }), hooks().hooks);
    assert.equal(result.status, 'failed');
    assert.equal(rclone.calls.length, 4, 'the sync and the listings, nothing else');
    assert.match(result.reason ?? '', /making way would delete 3 files, more than rclone\.maxDelete \(2\) allows/);
  });

  it('WebDAV (a write over a folder removes its files there): cleared before the first write; refused, nothing is written at all', async () => {
    const history = 'r:b/.poof-history/20261204T100000Z/Docs';
    const cleared = recordedRclone([...lists(), ok([]), ok([]), ok([]), loadRecording('sync')]);
    const result = await runMappingRetryingChanged(cleared, clashPlan({ backendType: 'webdav', backupDir: history }), { ...hooks().hooks, passFolder: () => `${history}-2` });
    assert.equal(result.status, 'ok');
    assert.deepEqual(cleared.calls.map((args) => args[0]), ['lsjson', 'lsjson', 'moveto', 'moveto', 'rmdirs', 'sync']);
    const refused = recordedRclone([...lists(), loadRecording('lsjson-clash-remote-folder')]);
    const stopped = await runMappingRetryingChanged(refused, clashPlan({ backendType: 'webdav', tuning: { maxDelete: 1 } }), hooks().hooks);
    assert.equal(stopped.status, 'failed');
    assert.match(stopped.reason ?? '', /more than rclone\.maxDelete \(1\) allows; the backup did not run/);
    assert.equal(refused.calls.some((args) => args[0] === 'sync'), false, 'no write');
  });

  it('WebDAV: a remote not there yet (a first backup) has nothing in the way; a side that cannot be listed stops the run before any write', async () => {
    const notThere: RecordedRun = { ...ok([]), exitCode: 3, stderr: 'directory not found\n' };
    const first = recordedRclone([lists()[0]!, notThere, loadRecording('sync')]);
    assert.equal((await runMappingRetryingChanged(first, clashPlan({ backendType: 'webdav' }), hooks().hooks)).status, 'ok');
    const unlistable = recordedRclone([{ ...ok([]), exitCode: 1, stderr: 'permission denied\n' }, lists()[1]!]);
    const stopped = await runMappingRetryingChanged(unlistable, clashPlan({ backendType: 'webdav' }), hooks().hooks);
    assert.equal(stopped.status, 'failed');
    assert.match(stopped.reason ?? '', /^\/home\/joe\/Docs could not be listed, to look for a name that is a file on one side and a folder on the other; the backup did not run$/);
    assert.equal(unlistable.calls.some((args) => args[0] === 'sync'), false, 'no write');
  });

  it('an uploaded mapping (copy only: the remote holds the only copy) is never cleared', async () => {
    const rclone = recordedRclone([loadRecording('sync-type-clash')]);
    const result = await runMappingRetryingChanged(rclone, clashPlan({}, true), hooks().hooks);
    assert.equal(result.status, 'failed');
    assert.equal(rclone.calls.length, 1);
  });
});

describe('mayClash: from the record of what the last run sent, before anything is written', () => {
  it('a file where a folder was, or a folder where a file was; nothing for edits, adds or deletes alone', () => {
    const tree = (...names: string[]) => Object.fromEntries(names.map((name) => [name, {}]));
    assert.equal(mayClash(tree('a/b/x.txt', 'c.txt'), tree('a', 'c.txt')), true, 'a file a made a folder');
    assert.equal(mayClash(tree('a', 'c.txt'), tree('a/b/x.txt', 'c.txt')), true, 'a folder a made a file');
    assert.equal(mayClash(tree('a/b', 'c.txt'), tree('a/b/x.txt')), true, 'a deeper folder made a file');
    assert.equal(mayClash(tree('a/x.txt', 'b.txt'), tree('a/y.txt', 'c.txt')), false, 'renames beside each other');
    assert.equal(mayClash(tree('a/x.txt', 'ab'), tree('a/x.txt', 'a.txt')), false, 'a name that only starts like a folder');
    assert.equal(mayClash(tree('a/x.txt'), tree('a/x.txt')), false);
  });
});
