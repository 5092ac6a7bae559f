import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/run/history.js';
import { describeStaleMapping, findStaleMappings } from '../../src/run/stale.js';

const now = new Date('2026-11-25T12:00:00.000Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();

function run(command: string, endedHoursAgo: number, mappings: Array<[string, RunRecord['mappings'][number]['status']]>, dryRun = false): RunRecord {
  return {
    command,
    started: hoursAgo(endedHoursAgo + 0.1),
    ended: hoursAgo(endedHoursAgo),
    status: mappings.every(([, s]) => s === 'ok') ? 'ok' : 'failed',
    exitCode: mappings.every(([, s]) => s === 'ok') ? 0 : 1,
    dryRun,
    mappings: mappings.map(([name, status]) => ({ name, status, copied: 0, deleted: 0, bytes: 0, errors: 0, durationMs: 0 })),
  };
}

describe('findStaleMappings', () => {
  it('a mapping backed up within the limit is fresh', () => {
    assert.deepEqual(findStaleMappings(['Docs'], [run('backup', 47, [['Docs', 'ok']])], now, 48), []);
  });

  it('a mapping whose last success is older than the limit is stale, with its age', () => {
    assert.deepEqual(findStaleMappings(['Docs'], [run('backup', 72, [['Docs', 'ok']])], now, 48), [
      { name: 'Docs', lastOk: { command: 'backup', ended: hoursAgo(72) }, ageHours: 72 },
    ]);
  });

  it('failures, dry runs and downloads after the last success do not count as backups', () => {
    const records = [
      run('backup', 72, [['Docs', 'ok']]),
      run('backup', 10, [['Docs', 'failed']]),
      run('backup', 5, [['Docs', 'ok']], true),
      run('download', 1, [['Docs', 'ok']]),
    ];
    assert.deepEqual(findStaleMappings(['Docs'], records, now, 48).map((s) => s.ageHours), [72]);
  });

  it('an upload counts, and so does a mapping that succeeded in a run where another failed', () => {
    const records = [run('upload', 3, [['Arch', 'ok']]), run('backup', 2, [['Docs', 'ok'], ['Pics', 'failed']])];
    assert.deepEqual(findStaleMappings(['Arch', 'Docs'], records, now, 48), []);
  });

  it('a mapping never backed up successfully is stale; only mapped names are reported', () => {
    const records = [run('backup', 1, [['Docs', 'failed'], ['Old', 'ok']])];
    assert.deepEqual(findStaleMappings(['Docs', 'New'], records, now, 48), [
      { name: 'Docs', lastOk: null, ageHours: null },
      { name: 'New', lastOk: null, ageHours: null },
    ]);
  });

  it('the newest success wins whatever the order of the file', () => {
    const records = [run('backup', 1, [['Docs', 'ok']]), run('backup', 100, [['Docs', 'ok']])];
    assert.deepEqual(findStaleMappings(['Docs'], records, now, 48), []);
  });

  it('honours a custom limit', () => {
    assert.equal(findStaleMappings(['Docs'], [run('backup', 7, [['Docs', 'ok']])], now, 6).length, 1);
  });
});

describe('describeStaleMapping', () => {
  it('says days for old copies, hours for recent ones, and never', () => {
    assert.equal(
      describeStaleMapping({ name: 'Docs', lastOk: { command: 'backup', ended: '2026-11-22T08:00:12.345Z' }, ageHours: 76 }, 48),
      'Docs: last successful backup 3 days ago (2026-11-22 08:00Z), more than 48 hours',
    );
    assert.equal(
      describeStaleMapping({ name: 'Arch', lastOk: { command: 'upload', ended: '2026-11-25T02:00:00.000Z' }, ageHours: 10 }, 6),
      'Arch: last successful upload 10 hours ago (2026-11-25 02:00Z), more than 6 hours',
    );
    assert.equal(describeStaleMapping({ name: 'New', lastOk: null, ageHours: null }, 48), 'New: never backed up successfully');
  });
});
