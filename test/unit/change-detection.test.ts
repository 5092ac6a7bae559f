import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changedSinceSent, compareWithSent, recordFromListing, unseenEntry } from '../../src/engine/sent-record.js';
import { judgeFeatures } from '../../src/rclone/features.js';
import { exactFilterLine } from '../../src/rclone/args.js';
import { exitCodeOf } from '../../src/run/pipeline.js';
import { copyDict } from '../../src/dict.js';

describe('how a storage shows changes (rclone backend features)', () => {
  it('WebDAV without times or hashes can only compare sizes; local storage has both', () => {
    assert.deepEqual(judgeFeatures('{"Precision":3153600000000000000,"Hashes":[]}'), { modTime: false, hashes: [], sizeOnly: true });
    assert.deepEqual(judgeFeatures('{"Precision":1,"Hashes":["md5","sha1"]}'), { modTime: true, hashes: ['md5', 'sha1'], sizeOnly: false, precisionNs: 1 });
    assert.deepEqual(judgeFeatures('{"Precision":3153600000000000000,"Hashes":["md5"]}'), { modTime: false, hashes: ['md5'], sizeOnly: false });
    assert.equal(judgeFeatures('not json'), undefined);
  });
});

describe('the record of what was sent', () => {
  const listing = JSON.stringify([
    { Path: 'a.txt', Size: 3, ModTime: '2026-11-25T08:00:00.1Z', Metadata: { mode: '100644' } },
    { Path: 'b.txt', Size: 5, ModTime: '2026-11-25T08:00:00.2Z', Metadata: { mode: '100600' } },
  ]);
  it('keeps size, time and (where the storage keeps them) mode', () => {
    assert.deepEqual(recordFromListing(listing, true), copyDict({ 'a.txt': [3, '2026-11-25T08:00:00.1Z', '100644'], 'b.txt': [5, '2026-11-25T08:00:00.2Z', '100600'] }));
    assert.deepEqual(recordFromListing(listing, false), copyDict({ 'a.txt': [3, '2026-11-25T08:00:00.1Z'], 'b.txt': [5, '2026-11-25T08:00:00.2Z'] }));
  });
  it('finds files changed in size, time or mode since they were sent, and files the record does not hold', () => {
    const sent = { 'a.txt': [3, 't1', '100644'], 'b.txt': [5, 't2', '100644'], 'c.txt': [1, 't3', '100644'], 'd.txt': [1, 't4', '100644'] } as const;
    const now = { 'a.txt': [3, 't1', '100644'], 'b.txt': [5, 't2', '100600'], 'c.txt': [1, 't9', '100644'], 'd.txt': [2, 't4', '100644'], 'new.txt': [1, 't', '100644'] } as const;
    assert.deepEqual(changedSinceSent(now as never, sent as never), ['b.txt', 'c.txt', 'd.txt', 'new.txt']);
    assert.deepEqual(changedSinceSent({ 'a.txt': [3, 't1'] }, { 'a.txt': [3, 't1', '100644'] }), [], 'no mode on one side compares size and time only');
  });
  it('where the storage keeps times, only what rclone would miss: a mode change, a same-size edit within the time precision', () => {
    const at = (ms: number) => new Date(Date.parse('2026-12-03T10:00:00Z') + ms).toISOString();
    const sent = { mode: [3, at(0), '100644'], grown: [5, at(0), '100644'], later: [5, at(0), '100644'], quick: [5, at(0), '100644'], same: [5, at(0), '100644'] } as const;
    const now = { mode: [3, at(0), '100600'], grown: [6, at(400), '100644'], later: [5, at(5_000), '100644'], quick: [5, at(400), '100644'], same: [5, at(0), '100644'], new: [1, at(0), '100644'] } as const;
    assert.deepEqual(changedSinceSent(now as never, sent as never, 1), ['mode'], 'local disks (1 ns): rclone sees every edit itself');
    assert.deepEqual(changedSinceSent(now as never, sent as never, 1e9), ['mode', 'quick'], 'SFTP (1 s): a same-size save 0.4 s later is within the precision');
    assert.deepEqual(changedSinceSent(now as never, sent as never), ['grown', 'later', 'mode', 'new', 'quick'], 'no times: everything');
    assert.deepEqual(changedSinceSent({ f: [5, 'not a time', '100644'] }, { f: [5, at(0), '100644'] }, 1), ['f'], 'a time that cannot be read is sent again');
  });
  it('a file sent that the walk never saw is recorded as unseen: its next walk sends it again, modes kept or not', () => {
    assert.deepEqual(changedSinceSent({ 'late.txt': [3, 't1', '100600'] }, { 'late.txt': unseenEntry(true) }, 1), ['late.txt']);
    assert.deepEqual(changedSinceSent({ 'late.txt': [3, 't1'] }, { 'late.txt': unseenEntry(false) }), ['late.txt']);
    assert.deepEqual(compareWithSent({ 'a.txt': [3, 't1', '100644'], 'new.txt': [1, 't', '100644'] }, { 'a.txt': [3, 't1', '100644'] }, 1).unknown, ['new.txt']);
  });
  it('a record the same as the last (files, sizes, times, modes, spelled the same) is not written again; any difference is', () => {
    const last = { 'a.txt': [3, 't1', '100644'], 'b.txt': [5, 't2', '100600'] } as const;
    assert.ok(compareWithSent({ 'b.txt': [5, 't2', '100600'], 'a.txt': [3, 't1', '100644'] }, last as never).same);
    for (const other of [
      { 'a.txt': [3, 't1', '100644'] },
      { 'a.txt': [3, 't1', '100644'], 'b.txt': [5, 't2', '100600'], 'c.txt': [1, 't', '100644'] },
      { 'a.txt': [4, 't1', '100644'], 'b.txt': [5, 't2', '100600'] },
      { 'a.txt': [3, 't9', '100644'], 'b.txt': [5, 't2', '100600'] },
      { 'a.txt': [3, 't1', '100755'], 'b.txt': [5, 't2', '100600'] },
      { 'a.txt': [3, 't1'], 'b.txt': [5, 't2', '100600'] },
    ]) {
      assert.equal(compareWithSent(other as never, last as never).same, false, JSON.stringify(other));
      assert.equal(compareWithSent(last as never, other as never, 1).same, false, JSON.stringify(other));
    }
  });
  it('names exactly one file in an rclone filter, whatever its characters', () => {
    assert.equal(exactFilterLine('inbox.mbox'), '/inbox.mbox');
    assert.equal(exactFilterLine('a [1]/b*{c}?.txt'), '/a \\[1\\]/b\\*\\{c\\}\\?.txt');
    assert.equal(exactFilterLine('back\\slash'), '/back\\\\slash');
    assert.equal(exactFilterLine('trail \t'), '/trail[ ][\t]', 'rclone trims filter lines: white space at the end kept in a class');
    assert.equal(exactFilterLine(' lead and #hash'), '/ lead and #hash');
  });
});

describe('the exit code of a run', () => {
  const result = (status: 'ok' | 'partial' | 'failed' | 'refused') => ({ kind: 'backup' as const, name: status, localDir: '/a', remotePath: 'r:a', status, copied: 0, deleted: 0, errors: [], durationMs: 0 });
  it('is 0 when every mapping finished, 7 when only changing files are missing, 1 otherwise', () => {
    assert.equal(exitCodeOf({ results: [result('ok'), result('ok')], notRun: [] }), 0);
    assert.equal(exitCodeOf({ results: [result('ok'), result('partial')], notRun: [] }), 7);
    assert.equal(exitCodeOf({ results: [result('partial'), result('failed')], notRun: [] }), 1);
    assert.equal(exitCodeOf({ results: [result('refused')], notRun: [] }), 1);
    assert.equal(exitCodeOf({ results: [result('ok')], notRun: ['B'] }), 1);
  });
});

describe('what each rclone version can do', () => {
  const v = (minor: number, patch = 0) => ({ major: 1, minor, patch, text: `v1.${minor}.${patch}` });
  it('follows the changelog, down to patch releases for security fixes', async () => {
    const { capabilitiesOf } = await import('../../src/rclone/capabilities.js');
    const none = { bisyncSafetyFlags: false, partialUploads: false, usageExit2: false, maxDeleteSize: false, directoryMetadata: false, linksWithMetadata: false, confinedLinks: false, confinedNames: false, serveS3: false, rcdNeedsAuth: false };
    assert.deepEqual(capabilitiesOf(v(60, 1)), { bisync: 'experimental', ...none });
    assert.equal(capabilitiesOf(v(62)).maxDeleteSize, true);
    assert.equal(capabilitiesOf(v(62)).partialUploads, false);
    assert.equal(capabilitiesOf(v(63)).partialUploads, true);
    assert.deepEqual([capabilitiesOf(v(65, 9)).bisync, capabilitiesOf(v(66)).bisync, capabilitiesOf(v(70, 3)).bisync, capabilitiesOf(v(71)).bisync], ['experimental', 'beta', 'beta', 'stable']);
    assert.deepEqual([capabilitiesOf(v(68)).usageExit2, capabilitiesOf(v(69)).usageExit2], [false, true]);
    assert.deepEqual([capabilitiesOf(v(68, 1)).linksWithMetadata, capabilitiesOf(v(68, 2)).linksWithMetadata], [false, true]);
    assert.deepEqual([capabilitiesOf(v(74, 3)).confinedLinks, capabilitiesOf(v(74, 4)).confinedLinks, capabilitiesOf(v(74, 4)).confinedNames], [false, true, false]);
    const all = Object.fromEntries(Object.keys(none).map((k) => [k, true]));
    assert.deepEqual(capabilitiesOf(v(75, 2)), { bisync: 'stable', ...all });
  });

  it('a poof.conf setting this rclone cannot carry out is one line naming the setting and the release', async () => {
    const { unmetNeed } = await import('../../src/rclone/capabilities.js');
    const config = { version: 1, remote: 'r', bucket: 'b', paths: {}, rclone: { maxDeleteSize: '10G' } } as const;
    assert.equal(unmetNeed(config, v(60, 1)), 'poof.conf "rclone.maxDeleteSize" needs rclone 1.62 or newer; this is v1.60.1');
    assert.equal(unmetNeed(config, v(62)), undefined);
    assert.equal(unmetNeed({ ...config, rclone: {} }, v(60, 1)), undefined);
  });
});

describe('rclone failures', () => {
  it('a usage error is one on every version: exit 1 (before 1.69) or 2, told by rclone\'s words', async () => {
    const { classifyRcloneFailure } = await import('../../src/rclone/exit-codes.js');
    const text = 'Error: invalid argument "garbage" for "--bwlimit" flag: strconv.ParseFloat: parsing "garbag": invalid syntax\nUsage:\n';
    for (const code of [1, 2]) {
      const info = classifyRcloneFailure(code, text);
      assert.match(info.meaning, /^rclone refused its command line \(invalid argument "garbage" for "--bwlimit" flag/);
      assert.match(info.advice, /check the rclone settings in poof\.conf/);
    }
    assert.equal(classifyRcloneFailure(1, 'Failed to copy: permission denied').meaning, 'an error rclone did not classify');
    assert.equal(classifyRcloneFailure(3, 'directory not found').meaning, 'a directory was not found');
  });
});
