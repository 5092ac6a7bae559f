import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { HashCache } from '../../src/vault/hash-cache.js';
import { buildObjectCopyArgs, objectPath, parseVaultRecordName, vaultRecordName, vaultRoot, vaultWriteFlags } from '../../src/vault/layout.js';
import { decodeManifest, encodeManifest } from '../../src/versions/manifest.js';
import { diffVault } from '../../src/vault/backup.js';
import { vaultVersionsOf } from '../../src/vault/versions.js';
import { expiredRuns, objectsToRemove } from '../../src/vault/prune.js';
import { SHARDS, sftpWriterForceCommand, sftpWriterSetup } from '../../src/vault/setup-help.js';
import type { RunManifest, TreeState } from '../../src/versions/manifest.js';
import { validateConfig } from '../../src/config/validate.js';
import { protectionVerdict } from '../../src/verify/checks/protection.js';

const sha = (c: string) => c.repeat(64);

function record(runId: string, files: TreeState): RunManifest {
  return { format: 1, runId, mapping: 'Work', status: 'complete', started: '', ended: '', command: 'backup', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, files };
}

describe('the vault layout', () => {
  it('names records by run and mapping, and reads them back, names with dots too', () => {
    const name = vaultRecordName('20261203T101010Z', 'My.Docs v2');
    assert.equal(name, '20261203T101010Z.My.Docs v2.run.json.gz');
    assert.deepEqual(parseVaultRecordName(name), { runId: '20261203T101010Z', mapping: 'My.Docs v2' });
    assert.equal(parseVaultRecordName('.canary-1'), undefined);
    assert.equal(parseVaultRecordName('20261203T101010Z.Work.run.json.gz.partial'), undefined);
  });

  it('keeps objects in 256 folders by the first two hex digits', () => {
    assert.equal(objectPath(sha('a')), `aa/${sha('a')}`);
    assert.equal(vaultRoot('poof-crypt:'), 'poof-crypt:.poof-vault');
    assert.equal(vaultRoot('poof-backup:bucket'), 'poof-backup:bucket/.poof-vault');
  });

  it('never writes over an object, never through a rename (1.63+), never sets a time (setstat) on a file or (1.66+) a folder', () => {
    assert.deepEqual(vaultWriteFlags({ partialUploads: false, directoryTimes: false }), ['--ignore-existing', '--sftp-set-modtime=false']);
    assert.deepEqual(vaultWriteFlags({ partialUploads: true, directoryTimes: true }), ['--ignore-existing', '--sftp-set-modtime=false', '--inplace', '--no-update-dir-modtime']);
    const args = buildObjectCopyArgs('/c.conf', '/tmp/s', 'r:b', '/tmp/s/list', { partialUploads: true, directoryTimes: false }, { bwlimit: '1M' });
    assert.deepEqual(args.slice(0, 8), ['copy', '/tmp/s', 'r:b/.poof-vault/data', '--files-from-raw', '/tmp/s/list', '--no-traverse', '--copy-links', '--ignore-existing']);
    assert.ok(args.includes('--inplace') && args.includes('--sftp-disable-hashcheck') && args.join(' ').includes('--bwlimit 1M'));
    assert.ok(!args.includes('sync') && !args.includes('--delete-after'));
  });
});

describe('a record read from the storage (whoever holds the key wrote it)', () => {
  const ok = { size: 1, mtime: 1, sha256: sha('b') };
  const read = (files: Record<string, unknown>) => () => decodeManifest(encodeManifest(record('20261203T101010Z', files as TreeState)));
  it('is refused when a path leaves the mapping, a file is below a file, or an object is not named by its hash', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', '']) assert.throws(read({ [bad]: ok }), /it lists/, bad);
    assert.throws(read({ d: ok, 'd/e': ok }), /below the file "d"/);
    assert.throws(read({ a: { ...ok, sha256: 'x' } }), /not a SHA-256/);
    assert.throws(read({ a: { ...ok, object: `${sha('c')}.20261203T101010Z` } }), /not named by its hash/);
    assert.throws(read({ a: { ...ok, object: `${sha('b')}.x` } }), /not named by its hash/);
    assert.doesNotThrow(read({ 'a/b c/d.txt': ok, 'a/e': { ...ok, object: `${sha('b')}.20261203T101010Z` }, 'with space ': { size: 0, mtime: 0 } }));
  });
});

describe('what an append-only run records', () => {
  it('counts a file as changed when its content, time or mode changed, and deletions that are recorded, not carried out', () => {
    const before: TreeState = { a: { size: 1, mtime: 1, mode: 0o644, sha256: sha('a') }, b: { size: 1, mtime: 1, sha256: sha('b') }, c: { size: 1, mtime: 1, sha256: sha('c') } };
    const after: TreeState = { a: { size: 1, mtime: 1, mode: 0o600, sha256: sha('a') }, b: { size: 1, mtime: 1, sha256: sha('d') }, d: { size: 1, mtime: 1, sha256: sha('c') } };
    assert.deepEqual(diffVault(before, after), { added: 1, changed: 2, deleted: 1 });
    assert.deepEqual(diffVault(undefined, after), { added: 3, changed: 0, deleted: 0 });
    assert.deepEqual(diffVault(after, { ...after }), { added: 0, changed: 0, deleted: 0 });
  });

  it('lists a file\'s versions from the runs: when each state appeared and which run replaced it; a deleted file has no current one', () => {
    const s = (c: string, mtime: number) => ({ size: c.length, mtime, sha256: sha(c) });
    const records = [
      record('20261201T000000Z', { f: s('a', 1) }),
      record('20261202T000000Z', { f: s('a', 1), g: s('x', 1) }),
      record('20261203T000000Z', { f: s('b', 2) }),
      record('20261204T000000Z', {}),
      record('20261205T000000Z', { f: s('a', 3) }),
    ];
    assert.deepEqual(vaultVersionsOf('f', records), [
      { since: '20261205T000000Z', size: 1, mtime: 3 },
      { since: '20261203T000000Z', size: 1, mtime: 2, replacedBy: '20261204T000000Z' },
      { since: '20261201T000000Z', size: 1, mtime: 1, replacedBy: '20261203T000000Z' },
    ]);
    assert.deepEqual(vaultVersionsOf('g', records), [{ since: '20261202T000000Z', size: 1, mtime: 1, replacedBy: '20261203T000000Z' }]);
    assert.deepEqual(vaultVersionsOf('none', records), []);
  });
});

describe('the hash cache', () => {
  it('gives a file\'s hashes only while its size, times and inode are those it was hashed with; a rewrite with the old time restored is caught by the change time', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-hashes-'));
    try {
      const file = path.join(dir, 'f');
      await writeFile(file, 'one');
      const info = await stat(file, { bigint: true });
      const cache = new HashCache(path.join(dir, 'state'), dir);
      await cache.load();
      // Hashed just now: not kept (a write in the same tick of a coarse clock would not show).
      cache.set('f', info, { sha256: sha('1'), md5: 'm' });
      assert.equal((await (async () => (await cache.save(), new HashCache(path.join(dir, 'state'), dir)))()).get('f', info), undefined);
      cache.set('f', info, { sha256: sha('1'), md5: 'm' }, Date.now() + 3000);
      await cache.save();
      const again = new HashCache(path.join(dir, 'state'), dir);
      await again.load();
      assert.deepEqual(again.get('f', await stat(file, { bigint: true })), { sha256: sha('1'), md5: 'm' });
      await new Promise((r) => setTimeout(r, 20));
      await writeFile(file, 'two');
      await utimes(file, new Date(Number(info.mtimeMs)), new Date(Number(info.mtimeMs)));
      const now = await stat(file, { bigint: true });
      assert.equal(now.size, info.size);
      assert.equal(again.get('f', now), undefined);
      // Only what a run set again is kept: a file gone since is forgotten.
      await again.save();
      const third = new HashCache(path.join(dir, 'state'), dir);
      await third.load();
      assert.equal(third.get('f', info), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('append-only settings', () => {
  const base = { bucket: 'b', remote: 'r', paths: { '/home/u/Docs': 'Docs' } };
  it('accepts "mode": "append-only" and refuses links kept as links or history off with it, naming the field', () => {
    assert.deepEqual(validateConfig({ ...base, mode: 'append-only' }).errors, []);
    assert.deepEqual(validateConfig({ ...base, mode: 'append-only', symlinks: 'links' }).errors.map((e) => e.field), ['symlinks']);
    assert.deepEqual(validateConfig({ ...base, mode: 'append-only', history: false }).errors.map((e) => e.field), ['history']);
    assert.deepEqual(validateConfig({ ...base, mode: 'mirror', symlinks: 'links', history: false }).errors, []);
    assert.match(validateConfig({ ...base, mode: 'append' }).errors[0]!.message, /must be one of "mirror", "append-only"/);
    assert.equal(validateConfig({ ...base, paths: { '/home/u/x': '.poof-vault' } }).errors[0]!.field, 'paths["/home/u/x"]');
  });

  it('prints a write-only SFTP user that denies every request that removes, renames or changes a file, and folders made beforehand', () => {
    assert.equal(sftpWriterForceCommand(), 'internal-sftp -P remove,rename,posix-rename,rmdir,setstat,fsetstat,lsetstat,hardlink,symlink -u 0222');
    const lines = sftpWriterSetup('backup', 'bucket/.poof-vault');
    assert.ok(lines.includes('Match User backup'));
    assert.ok(lines.some((l) => l.startsWith('mkdir -p \'bucket/.poof-vault/runs\'') && l.includes('chown backup')));
    // Under crypt the same folders, by their encrypted names: all 256 shards, each owned by the writer.
    const shards = SHARDS.map((shard) => `enc${shard}`);
    const encrypted = sftpWriterSetup('backup', 'unused', { vault: 'bucket/encvault', runs: 'encruns', data: 'encdata', shards });
    const made = encrypted.filter((l) => l.startsWith('mkdir '));
    assert.equal(made.length, 1);
    assert.ok(made[0]!.startsWith('mkdir -p \'bucket/encvault/encruns\' && chown backup \'bucket/encvault/encruns\''));
    assert.ok(made[0]!.includes(`for d in ${shards.join(' ')}; do mkdir -p 'bucket/encvault/encdata'/$d && chown backup`));
    assert.equal(SHARDS.length, 256);
    assert.deepEqual([SHARDS[0], SHARDS[255]], ['00', 'ff']);
  });
});

describe('an append-only prune', () => {
  const now = new Date('2026-12-10T12:00:00Z');
  const rec = (runId: string, complete = true): RunManifest => {
    const { files: _files, ...incomplete } = record(runId, {});
    return complete ? record(runId, {}) : { ...incomplete, status: 'incomplete' };
  };
  it('expires runs by age from now, never the newest complete run of a mapping nor the newest before the window, and keeps runs dated after now (a writer cannot get real runs pruned)', () => {
    const records = [rec('20261101T000000Z'), rec('20261201T000000Z'), rec('20261205T000000Z', false), rec('20261209T000000Z')];
    // The newest run older than the window stays too: it is the tree at the window's start.
    assert.deepEqual(expiredRuns(records, 7 * 86_400_000, now), { expired: ['20261101T000000Z'], kept: ['20261201T000000Z', '20261205T000000Z', '20261209T000000Z'] });
    // Fake runs, old and new, added by a writer: the real newest stays; a future one is kept and pushes nothing out.
    const withFakes = [...records, rec('20990101T000000Z'), rec('20200101T000000Z')];
    assert.deepEqual(expiredRuns(withFakes, 7 * 86_400_000, now).kept, ['20261201T000000Z', '20261205T000000Z', '20261209T000000Z', '20990101T000000Z']);
    // Nothing recent: the newest complete run stays, whatever its age, also beside a planted one dated later.
    assert.deepEqual(expiredRuns([rec('20261101T000000Z'), rec('20261102T000000Z'), rec('20261103T000000Z', false)], 86_400_000, now).kept, ['20261102T000000Z']);
    assert.deepEqual(expiredRuns([rec('20261101T000000Z'), rec('20261102T000000Z'), rec('20990101T000000Z')], 86_400_000, now).kept, ['20261102T000000Z', '20990101T000000Z']);
  });

  it('removes objects only expired runs name at once, and objects no record names only after a week of being seen so', () => {
    const stored = new Map([['aa/kept', 1], ['bb/expired', 2], ['cc/unnamed', 3], ['dd/old-unnamed', 4], ['ee/x.partial', 5]]);
    const seen = { 'dd/old-unnamed': '2026-12-03T11:00:00.000Z', 'cc/unnamed': '2026-12-04T00:00:00.000Z', 'gone/z': '2026-12-01T00:00:00.000Z' };
    const chosen = objectsToRemove(stored, new Set(['aa/kept']), new Set(['aa/kept', 'bb/expired']), seen, now);
    assert.deepEqual(chosen.remove, ['bb/expired', 'dd/old-unnamed']);
    assert.deepEqual(chosen.waiting, ['cc/unnamed', 'ee/x.partial']);
    assert.deepEqual({ ...chosen.seen }, { 'cc/unnamed': '2026-12-04T00:00:00.000Z', 'dd/old-unnamed': '2026-12-03T11:00:00.000Z', 'ee/x.partial': now.toISOString() });
  });

  it('keeps runs by age only in append-only mode: counted rules are refused, naming them', () => {
    const base = { bucket: 'b', remote: 'r', paths: { '/home/u/Docs': 'Docs' }, mode: 'append-only' };
    assert.deepEqual(validateConfig({ ...base, keep: { within: '90d', last: 3 } }).errors.map((e) => e.field), ['keep.last']);
    assert.deepEqual(validateConfig({ ...base, keep: { within: '45s' }, pruneRemote: 'poof-admin' }).errors, []);
  });
});

describe('what poof verify concludes from the canary', () => {
  it('passes when the storage refused both, fails when it let the key delete or overwrite, and warns on an S3 bucket that keeps every version', () => {
    assert.equal(protectionVerdict('r:runs/.poof-canary', false, false).status, 'ok');
    const fail = protectionVerdict('r:runs/.poof-canary', true, false, 'Unversioned');
    assert.equal(fail.status, 'fail');
    assert.match(fail.detail, /^append-only, but this key can delete your backups/);
    assert.match(protectionVerdict('c', true, true).detail, /can delete and overwrite your backups/);
    assert.match(protectionVerdict('c', false, true, 'Suspended').detail, /can overwrite your backups/);
    const versioned = protectionVerdict('c', true, true, 'Enabled');
    assert.equal(versioned.status, 'warn');
    assert.match(versioned.detail, /the bucket keeps every version \(S3 versioning on\)/);
    assert.match(versioned.hint!, /s3:DeleteObjectVersion/);
  });
});
