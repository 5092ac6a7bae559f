import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildProofArgs, hashesMissing, parseCombined } from '../../src/rclone/check.js';
import { formatUploadReport } from '../../src/ui/format.js';
import { isSafeRelative, planWipe, type FileState } from '../../src/wipe/plan.js';
import { isUploaded, markUploaded, readUploaded } from '../../src/run/uploaded.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildSyncArgs } from '../../src/rclone/args.js';
import { settingsFor } from '../helpers/transfer.js';
import { isMountPoint } from '../../src/safety/mount.js';

const state = (size: number, ctimeMs = 1): FileState => ({ size, mtimeMs: 1, ctimeMs, ino: size });

describe('proof argv', () => {
  const base = { configFile: '/c', localDir: '/home/joe/Arch', remotePath: 'r:b/Arch', excludes: ['*.tmp'] };
  it('hash: rclone check one way, a line per file, the backup\'s view of links and excludes', () => {
    const args = buildProofArgs({ ...base, method: 'hash', fastList: true });
    assert.deepEqual(args.slice(0, 3), ['check', '/home/joe/Arch', 'r:b/Arch']);
    for (const flag of ['--one-way', '--combined', '--copy-links', '--fast-list', '--ask-password=false']) assert.ok(args.includes(flag), flag);
    assert.equal(args[args.indexOf('--combined') + 1], '-');
    assert.equal(args[args.indexOf('--exclude') + 1], '*.tmp');
    assert.ok(!args.includes('--download'));
  });
  it('crypt uses cryptcheck; no shared hash downloads and compares bytes', () => {
    assert.equal(buildProofArgs({ ...base, method: 'cryptcheck' })[0], 'cryptcheck');
    const download = buildProofArgs({ ...base, method: 'download', symlinks: 'links' });
    assert.ok(download.includes('--download') && download.includes('--links'));
  });
});

describe('proof reports', () => {
  it('parses the combined report', () => {
    const report = parseCombined('= a.txt\n* changed.txt\n+ new file.txt\n- remote-only.txt\n! unreadable\n= dir/with space.txt\nnoise\n');
    assert.deepEqual(report, { same: ['a.txt', 'dir/with space.txt'], differ: ['changed.txt'], missing: ['new file.txt'], failed: ['unreadable'] });
  });
  it('notices when rclone compared sizes only (rclone 1.60 still exits 0 then)', () => {
    assert.equal(hashesMissing('2026/11/22 22:31:56 ERROR : No common hash found - not using a hash for checks\n'), true);
    assert.equal(hashesMissing("NOTICE: webdav root 'x': 5 hashes could not be checked\n"), true);
    assert.equal(hashesMissing('NOTICE: x: 0 hashes could not be checked\nNOTICE: 5 matching files\n'), false);
    assert.equal(hashesMissing('NOTICE: Local file system at /x: 0 differences found\n'), false);
  });
});

describe('planWipe', () => {
  const before = new Map([
    ['a', state(1)],
    ['b', state(2)],
    ['c', state(3)],
    ['linked/x', { ...state(4), viaLink: true }],
  ]);
  it('wipes only proven files that did not change; keeps everything else with a reason', () => {
    const after = new Map([
      ['a', state(1)],
      ['b', state(2, 99)],
      ['c', state(3)],
      ['new', state(5)],
      ['linked/x', { ...state(4), viaLink: true }],
    ]);
    const plan = planWipe({ proven: ['a', 'b', 'new', 'linked/x', '../escape'], unproven: [{ path: 'c', reason: 'differs from the remote copy' }], before, after });
    assert.deepEqual(plan.wipe, ['a']);
    assert.deepEqual(plan.kept, [
      { path: 'c', reason: 'differs from the remote copy' },
      { path: 'b', reason: 'changed after the proof began' },
      { path: 'new', reason: 'created after the proof began' },
      { path: 'linked/x', reason: 'reached through a linked directory, which may lie outside the mapping' },
      { path: '../escape', reason: 'not a plain path below the directory' },
    ]);
  });
  it('a file deleted during the proof is not wiped again', () => {
    const plan = planWipe({ proven: ['a'], unproven: [], before, after: new Map() });
    assert.deepEqual(plan.wipe, []);
  });
  it('accepts only plain relative paths', () => {
    for (const ok of ['a', 'a/b c', 'ünï/文件']) assert.equal(isSafeRelative(ok), true, ok);
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', './a']) assert.equal(isSafeRelative(bad), false, bad);
  });
});

describe('mount points', () => {
  it('/proc is one (another file system), a directory below / is not', async () => {
    assert.equal(await isMountPoint('/proc'), true);
    assert.equal(await isMountPoint('/usr/bin'), false);
  });
});

describe('uploaded mappings', () => {
  it('are copied, never mirrored, by later backups', () => {
    assert.equal(isUploaded({ Arch: '2026-11-22T00:00:00Z' }, 'Arch'), true);
    assert.equal(isUploaded({ Arch: '2026-11-22T00:00:00Z' }, 'Docs'), false);
    assert.equal(isUploaded({ '*': 'unreadable' }, 'Docs'), true);
    const args = buildSyncArgs({ ...settingsFor('alias', { config: { rclone: { maxDelete: 3 } } }), source: '/a', dest: 'r:b/a', copyOnly: true });
    assert.equal(args[0], 'copy');
    assert.ok(!args.includes('--max-delete'));
  });
  it('a mapping named like an object\'s own property (__proto__, constructor) is marked, read back and told apart like any other', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-uploaded-'));
    try {
      const file = path.join(dir, 'uploaded.json');
      assert.equal(isUploaded(await readUploaded(file), 'constructor'), false, 'nothing uploaded yet');
      await markUploaded(file, ['__proto__'], new Date('2026-12-03T00:00:00Z'));
      const read = await readUploaded(file);
      assert.equal(isUploaded(read, '__proto__'), true);
      assert.equal(isUploaded(read, 'constructor'), false);
      assert.equal(isUploaded(read, 'toString'), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('summarises proven, wiped and kept files', () => {
    const result = {
      kind: 'upload' as const, name: 'Arch', localDir: '/a', remotePath: 'r:b/Arch', status: 'ok' as const, copied: 1, deleted: 0, errors: [], durationMs: 5,
      upload: { method: 'download' as const, proven: 3, wiped: 2, kept: 1, keptFiles: [{ path: 'x', reason: 'changed after the proof began' }], removedDirs: 1, wipeMode: 'trash' as const },
    };
    assert.deepEqual(formatUploadReport(result, false), [
      'Arch: proven 3 by downloading and comparing bytes; moved to the trash 2; kept 1; removed 1 emptied directories',
      '  kept x: changed after the proof began',
    ]);
  });
});
