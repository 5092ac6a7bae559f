import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { EngineEvent, MappingEvent } from '../../src/engine/events.js';
import type { MappingPlan } from '../../src/engine/plan.js';
import { runAll } from '../../src/engine/run-all.js';
import { runMapping } from '../../src/engine/run-mapping.js';
import type { TransferResult } from '../../src/engine/result.js';
import { uploadMapping } from '../../src/upload/run-upload.js';
import { loadRecording, recordedRclone, withRepeatedFileLines } from '../helpers/recorded-rclone.js';

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
