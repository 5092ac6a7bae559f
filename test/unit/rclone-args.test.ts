import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planBackup, type SourceState } from '../../src/engine/plan.js';
import { formatBytes, formatResult } from '../../src/ui/format.js';
import { localDirOf, resolveRemote, storageIdentity, storageType } from '../../src/rclone/remote.js';
import { diskManifestPath } from '../../src/versions/store.js';
import type { PoofConfig } from '../../src/config/schema.js';
import { baseFlags, buildRestoreArgs, buildSyncArgs, defaultTuning } from '../../src/rclone/args.js';
import { rcloneEnvironment } from '../../src/rclone/env.js';
import { settingsFor } from '../helpers/transfer.js';
import { describeRcloneExit } from '../../src/rclone/exit-codes.js';
import { parseRcloneConf } from '../../src/rclone/ini.js';
import { lastErrorLine, parseLogLine } from '../../src/rclone/log-parse.js';
import { remotePathFor, remoteRoot } from '../../src/rclone/remote-path.js';
import { atLeast, findOnPath, parseRcloneVersion } from '../../src/rclone/version.js';
import { formatCheck } from '../../src/ui/check-line.js';
import { verifyPassed } from '../../src/verify/check.js';

describe('buildSyncArgs', () => {
  const base = { source: '/home/joe/Documents', dest: 'r:b/Documents' };
  it('always passes poof\'s config and never prompts', () => {
    assert.deepEqual(baseFlags('/c/x.conf'), ['--config', '/c/x.conf', '--ask-password=false']);
    const args = buildSyncArgs({ ...base, ...settingsFor('alias') });
    assert.deepEqual(args.slice(0, 6), ['sync', '/home/joe/Documents', 'r:b/Documents', '--config', '/c/rclone-poof.conf', '--ask-password=false']);
    assert.ok(args.includes('--use-json-log'));
  });
  it('local: follows links like the original, keeps empty dirs and metadata', () => {
    const args = buildSyncArgs({ ...base, ...settingsFor('alias') });
    for (const flag of ['--copy-links', '--create-empty-src-dirs', '--metadata']) assert.ok(args.includes(flag), flag);
    assert.ok(!args.includes('--checksum'));
  });
  it('s3: checksum and fast-list by default, no empty dirs', () => {
    const args = buildSyncArgs({ ...base, ...settingsFor('s3') });
    for (const flag of ['--checksum', '--fast-list', '--metadata']) assert.ok(args.includes(flag), flag);
    assert.ok(!args.includes('--create-empty-src-dirs'));
  });
  it('crypt: never --checksum (crypt has no hashes), not even when poof.conf asks; no metadata', () => {
    const args = buildSyncArgs({ ...base, ...settingsFor('s3', { crypt: true, config: { rclone: { checksum: true } } }) });
    assert.ok(!args.includes('--checksum'));
    assert.ok(!args.includes('--metadata'));
    assert.deepEqual(defaultTuning('s3', true), { fastList: true });
  });
  it('sftp: mtime only, so no --metadata', () => {
    assert.ok(!buildSyncArgs({ ...base, ...settingsFor('sftp') }).includes('--metadata'));
  });
  it('sftp: no md5sum over SSH after every file sent, unless rclone.hashCheck asks for it; other storage never gets the flag', () => {
    assert.ok(buildSyncArgs({ ...base, ...settingsFor('sftp') }).includes('--sftp-disable-hashcheck'));
    assert.ok(buildSyncArgs({ ...base, ...settingsFor('sftp', { crypt: true }) }).includes('--sftp-disable-hashcheck'), 'crypt over sftp: the same uploads underneath');
    assert.ok(!buildSyncArgs({ ...base, ...settingsFor('sftp', { config: { rclone: { hashCheck: true } } }) }).includes('--sftp-disable-hashcheck'));
    for (const backend of ['s3', 'local', 'webdav']) assert.ok(!buildSyncArgs({ ...base, ...settingsFor(backend) }).includes('--sftp-disable-hashcheck'), backend);
    assert.ok(!buildSyncArgs({ ...base, ...settingsFor('sftp', { config: { rclone: { checksum: true } } }) }).includes('--sftp-disable-hashcheck'), 'with --checksum rclone needs the hashes, or it compares sizes only');
  });
  it('links kept as links on a local-directory remote: only this side translates them (the mirror stores NAME.rclonelink files, never a real link)', () => {
    const settings = settingsFor('alias', { config: { symlinks: 'links' } });
    const args = buildSyncArgs({ ...base, ...settings });
    assert.equal(args[1], `:local,links=true:${base.source}`);
    assert.equal(args[2], base.dest);
    assert.ok(!args.includes('--links') && !args.includes('--copy-links') && !args.includes('--skip-links'), 'no global link flag: it would reach the mirror too');
    const restore = buildRestoreArgs({ ...settings, remotePath: base.dest, localDir: '/home/me/Docs', stagingDir: '/home/me/Docs/.poof-restore-0123abcd' });
    assert.deepEqual([restore[2], restore[restore.indexOf('--compare-dest') + 1]], [':local,links=true:/home/me/Docs/.poof-restore-0123abcd', ':local,links=true:/home/me/Docs']);
    // Through crypt, or to any other storage, --links as before.
    for (const other of [settingsFor('alias', { config: { symlinks: 'links' }, crypt: true }), settingsFor('s3', { config: { symlinks: 'links' } })]) {
      const plain = buildSyncArgs({ ...base, ...other });
      assert.ok(plain[1] === base.source && plain.includes('--links'));
    }
  });

  it('applies symlink modes, excludes, tuning and dry run', () => {
    const args = buildSyncArgs({
      ...base,
      ...settingsFor('sftp', { config: { symlinks: 'links', excludes: ['*.tmp', 'node_modules/**'], rclone: { transfers: 8, checkers: 16, bwlimit: '1M', maxDelete: 50 } } }),
      dryRun: true,
    });
    assert.ok(args.includes('--links') && !args.includes('--copy-links'));
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    assert.equal(after('--transfers'), '8');
    assert.equal(after('--checkers'), '16');
    assert.equal(after('--bwlimit'), '1M');
    assert.equal(after('--max-delete'), '50');
    assert.deepEqual(args.filter((_a, i) => args[i - 1] === '--exclude'), ['*.tmp', 'node_modules/**', '/.poof-restore-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]/**'], 'the user\'s excludes, then restore staging directories');
    assert.equal(args[args.length - 1], '--dry-run');
    assert.ok(buildSyncArgs({ ...base, ...settingsFor('sftp', { config: { symlinks: 'skip' } }) }).includes('--skip-links'));
  });
  it('lets the user switch a default off', () => {
    assert.ok(!buildSyncArgs({ ...base, ...settingsFor('s3', { config: { rclone: { checksum: false } } }) }).includes('--checksum'));
  });
  it('tuning is worked out once, when the remote is resolved: the builder takes it as given', () => {
    assert.deepEqual(settingsFor('s3').tuning, { checksum: true, fastList: true });
    assert.deepEqual(settingsFor('s3', { config: { rclone: { checksum: false, transfers: 2 } } }).tuning, { checksum: false, fastList: true, transfers: 2 });
    const given = buildSyncArgs({ ...base, ...settingsFor('s3'), tuning: {} });
    assert.ok(!given.includes('--checksum') && !given.includes('--fast-list'), 'no defaults added on top');
  });
});

describe('remote paths', () => {
  const conf = parseRcloneConf('[plain]\ntype = s3\n[sec]\ntype = crypt\nremote = plain:bkt\n');
  it('puts the bucket in the path, except under crypt (which wraps base:bucket)', () => {
    assert.equal(remoteRoot({ remote: 'plain', bucket: 'bkt' }, conf.sections[0]), 'plain:bkt');
    assert.equal(remotePathFor({ remote: 'plain', bucket: 'bkt' }, conf.sections[0], 'Docs'), 'plain:bkt/Docs');
    assert.equal(remotePathFor({ remote: 'sec', bucket: 'bkt' }, conf.sections[1], 'Docs'), 'sec:Docs');
    assert.equal(storageType(conf.sections[1]!, conf.sections[0]), 's3');
  });

  it('knows a local-directory "cloud" on disk (an alias of an absolute path), and only that, so its records skip rclone', () => {
    const local = parseRcloneConf('[disk]\ntype = alias\nremote = /mnt/backup/\n[other]\ntype = alias\nremote = plain:bkt\n[sec]\ntype = crypt\nremote = disk:bkt\n');
    const cfg = { remote: 'disk', bucket: 'bkt' } as PoofConfig;
    assert.equal(localDirOf(cfg, local.sections[0]!), '/mnt/backup/bkt');
    assert.equal(localDirOf(cfg, local.sections[1]!), undefined);
    assert.equal(localDirOf(cfg, local.sections[2]!), undefined, 'encrypted: only rclone can write it');
    const remote = resolveRemote(cfg, local.sections[0]!, undefined, '/c/r.conf');
    assert.equal(diskManifestPath(remote, '20261203T010203Z', 'Work'), '/mnt/backup/bkt/.poof-history/20261203T010203Z/Work.run.json.gz');
    assert.equal(diskManifestPath(remote, '20261203T010203Z', 'Fotos Ünï'), undefined, 'a name beyond printable ASCII goes through rclone, whose encoding decides its name on disk');
    assert.equal(diskManifestPath(resolveRemote(cfg, conf.sections[0]!, undefined, '/c/r.conf'), '20261203T010203Z', 'Work'), undefined);
  });
});

describe('planBackup', () => {
  const conf = parseRcloneConf('[r]\ntype = alias\nremote = /cloud\n');
  const full: SourceState = { exists: true, isDirectory: true, hasFiles: true };
  const config = { bucket: 'b', paths: { '/home/joe/Docs/': 'Docs', '/home/joe/Empty': 'Empty', '/mnt/gone': 'Gone', '/cloud/b': 'Loop' }, remote: 'r' };
  const sources = { '/home/joe/Docs/': full, '/home/joe/Empty': { ...full, hasFiles: false }, '/mnt/gone': { exists: false, isDirectory: false, hasFiles: false }, '/cloud/b': full };
  const plans = planBackup({ config, remote: resolveRemote(config, conf.sections[0]!, undefined, '/c/r.conf'), dryRun: false, sources });
  it('plans a sync for a good source, without its trailing slash', () => {
    assert.equal(plans[0]?.refusal, undefined);
    assert.equal(plans[0]?.localDir, '/home/joe/Docs');
    assert.equal(plans[0]?.args[1], '/home/joe/Docs');
    assert.equal(plans[0]?.args[2], 'r:b/Docs');
  });
  it('refuses empty and missing sources, which would wipe the remote copy', () => {
    assert.match(plans[1]?.refusal ?? '', /holds no files.*delete the whole remote copy/);
    assert.match(plans[2]?.refusal ?? '', /does not exist/);
  });
  it('refuses a local "cloud" that overlaps the source', () => {
    assert.match(plans[3]?.refusal ?? '', /overlaps/);
  });
  it('--only keeps the named mappings', () => {
    const only = planBackup({ config, remote: resolveRemote(config, conf.sections[0]!, undefined, '/c/r.conf'), dryRun: true, sources, only: ['Docs'] });
    assert.deepEqual(only.map((p) => p.name), ['Docs']);
    assert.ok(only[0]?.args.includes('--dry-run'));
  });
});

describe('rcloneEnvironment', () => {
  it('drops RCLONE_* except config-unlocking ones and turns AWS_CA_BUNDLE into --ca-cert', () => {
    const result = rcloneEnvironment({
      PATH: '/bin',
      RCLONE_CONFIG_POOF_BACKUP_TYPE: 'local',
      RCLONE_DELETE_BEFORE: 'true',
      RCLONE_CONFIG_PASS: 'x',
      AWS_CA_BUNDLE: '/etc/ssl/ca.pem',
      AWS_ACCESS_KEY_ID: 'kept',
      GONE: undefined,
    });
    assert.deepEqual(result.env, { PATH: '/bin', RCLONE_CONFIG_PASS: 'x', AWS_ACCESS_KEY_ID: 'kept' });
    assert.deepEqual(result.args, ['--ca-cert', '/etc/ssl/ca.pem']);
    assert.deepEqual(result.dropped, ['AWS_CA_BUNDLE', 'RCLONE_CONFIG_POOF_BACKUP_TYPE', 'RCLONE_DELETE_BEFORE']);
  });
});

describe('rclone version and location', () => {
  it('parses version lines', () => {
    assert.deepEqual(parseRcloneVersion('rclone v1.60.1-DEV\n- os/version: debian 12'), { major: 1, minor: 60, patch: 1, text: 'v1.60.1-DEV' });
    assert.equal(parseRcloneVersion('rclone v1.68.2')?.minor, 68);
    assert.equal(parseRcloneVersion('rclone v1.59')?.patch, 0);
    assert.equal(parseRcloneVersion('command not found'), undefined);
  });
  it('compares versions', () => {
    const v = parseRcloneVersion('rclone v1.60.1')!;
    assert.equal(atLeast(v, 1, 60), true);
    assert.equal(atLeast(v, 1, 62), false);
    assert.equal(atLeast(v, 1, 60, 2), false);
  });
  it('finds the first executable on PATH', () => {
    const found = findOnPath('rclone', '/a::/b/:/c', (f) => f === '/b/rclone' || f === '/c/rclone');
    assert.equal(found, '/b/rclone');
    assert.equal(findOnPath('rclone', undefined, () => true), undefined);
  });
});

describe('rclone exit codes', () => {
  it('explains each documented code', () => {
    assert.match(describeRcloneExit(3).meaning, /directory was not found/);
    assert.match(describeRcloneExit(5).advice, /try again later/);
    assert.match(describeRcloneExit(7).meaning, /--max-delete/);
    assert.match(describeRcloneExit(42).meaning, /unknown exit code 42/);
  });
});

describe('parseLogLine', () => {
  it('reads stats lines (rclone 1.60 labels them warning)', () => {
    const line = '{"level":"warning","msg":"\\nTransferred: ...","stats":{"bytes":5,"checks":0,"deletes":1,"errors":0,"eta":null,"totalBytes":5,"transfers":2,"totalTransfers":2,"elapsedTime":0.05,"speed":0},"time":"x"}';
    const event = parseLogLine(line);
    assert.equal(event?.kind, 'stats');
    if (event?.kind === 'stats') {
      assert.equal(event.stats.transfers, 2);
      assert.equal(event.stats.deletes, 1);
      assert.equal(event.stats.eta, null);
    }
  });
  it('reads per-file lines and dry-run skips', () => {
    assert.deepEqual(parseLogLine('{"level":"info","msg":"Copied (new)","object":"a b/ü.txt"}'), { kind: 'file', action: 'copied', object: 'a b/ü.txt', message: 'Copied (new)' });
    assert.equal((parseLogLine('{"level":"notice","msg":"Skipped delete as --dry-run is set (size 2)","object":"x"}') as { action: string }).action, 'skipped');
    assert.equal((parseLogLine('{"level":"info","msg":"Deleted","object":"x"}') as { action: string }).action, 'deleted');
  });
  it('reads errors and survives non-JSON and odd lines', () => {
    assert.deepEqual(parseLogLine('{"level":"error","msg":"Failed to copy: permission denied","object":"s.txt"}'), { kind: 'error', message: 'Failed to copy: permission denied', object: 's.txt' });
    assert.deepEqual(parseLogLine('panic: runtime error'), { kind: 'error', message: 'panic: runtime error' });
    assert.deepEqual(parseLogLine('2026/11/22 13:51:11 Failed to create file system for "d:b": connection refused'), {
      kind: 'error',
      message: 'Failed to create file system for "d:b": connection refused',
    });
    assert.deepEqual(parseLogLine('2026/11/22 13:51:11 INFO  : something'), { kind: 'text', text: 'INFO  : something' });
    assert.deepEqual(parseLogLine('42'), { kind: 'text', text: '42' });
    assert.equal(parseLogLine('   '), undefined);
    assert.deepEqual(parseLogLine('{"msg":"There was nothing to transfer","level":"info"}'), { kind: 'other', level: 'info', message: 'There was nothing to transfer' });
  });
  it('takes the last error line of plain stderr', () => {
    const stderr = '2026/11/22 13:34:02 ERROR : : error listing: directory not found\n2026/11/22 13:34:02 Failed to lsf with 2 errors: last error was: InvalidAccessKeyId\n\tstatus code: 403\n';
    assert.equal(lastErrorLine(stderr), 'Failed to lsf with 2 errors: last error was: InvalidAccessKeyId');
    assert.equal(lastErrorLine(''), 'no error message');
  });
});

describe('summaries and checks', () => {
  it('formats sizes', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(350 * 1024 * 1024), '350.0 MiB');
  });
  it('formats a mapping result honestly', () => {
    const base = { name: 'Docs', localDir: '/d', remotePath: 'r:b/Docs', copied: 2, deleted: 1, errors: [], durationMs: 1500 };
    assert.equal(formatResult({ ...base, status: 'ok' }, false), 'Docs: ok: copied 2 files (0 B), deleted 1, 0 errors, 1.5 s');
    assert.match(formatResult({ ...base, status: 'failed', reason: 'rclone exited 5' }, false), /^Docs: FAILED: rclone exited 5/);
    assert.match(formatResult({ ...base, status: 'refused', reason: 'empty' }, true), /^Docs: REFUSED: empty/);
  });
  it('passes verify only without failures or skips', () => {
    const ok = { id: 'a', title: 'a', status: 'ok' as const, detail: 'fine' };
    assert.equal(verifyPassed([ok, { ...ok, status: 'warn' }]), true);
    assert.equal(verifyPassed([ok, { ...ok, status: 'skip' }]), false);
    assert.equal(verifyPassed([ok, { ...ok, status: 'fail' }]), false);
    assert.equal(formatCheck({ ...ok, status: 'fail', hint: 'do x' }), 'FAIL  a: fine (fix: do x)');
  });
});

describe('storageIdentity: which storage a remote reaches', () => {
  const identity = (conf: string, root = 'poof-backup:bkt') => {
    const { sections } = parseRcloneConf(conf);
    const crypt = sections.find((s) => s.values.type === 'crypt');
    return storageIdentity({ root, section: crypt ?? sections[0]!, baseSection: crypt ? sections.find((s) => s !== crypt) : undefined });
  };
  const s3 = (extra: string) => `[poof-backup]\ntype = s3\nprovider = Other\nendpoint = http://127.0.0.1:9000\n${extra}`;
  it('is the same with other credentials, or with what rclone writes back itself', () => {
    const base = identity(s3('access_key_id = A\nsecret_access_key = S\n'));
    assert.equal(identity(s3('access_key_id = B\nsecret_access_key = T\nsession_token = x\n')), base);
    const sftp = '[poof-backup]\ntype = sftp\nhost = 127.0.0.1\nuser = u\nport = 22\n';
    assert.equal(identity(`${sftp}pass = p1\n`), identity(`${sftp}pass = p2\nshell_type = unix\nmd5sum_command = md5sum\nsha1sum_command = sha1sum\nkey_file = /k\n`));
  });
  it('differs for other storage behind the same remote name and bucket: another endpoint, provider, host, user, directory, or what a crypt remote wraps', () => {
    const base = identity(s3(''));
    assert.notEqual(identity('[poof-backup]\ntype = alias\nremote = /srv/cloud\n'), base);
    assert.notEqual(identity('[poof-backup]\ntype = alias\nremote = /srv/cloud\n'), identity('[poof-backup]\ntype = alias\nremote = /srv/other\n'));
    assert.notEqual(identity(s3('').replace('9000', '9001')), base);
    assert.notEqual(identity(s3('').replace('Other', 'Minio')), base);
    const sftp = '[poof-backup]\ntype = sftp\nhost = 127.0.0.1\nuser = u\n';
    assert.notEqual(identity(sftp), identity(sftp.replace('user = u', 'user = v')));
    const crypt = (under: string) => `[poof-crypt]\ntype = crypt\nremote = poof-backup:bkt\npassword = x\n${under}`;
    assert.notEqual(identity(crypt('[poof-backup]\ntype = alias\nremote = /a\n'), 'poof-crypt:'), identity(crypt('[poof-backup]\ntype = alias\nremote = /b\n'), 'poof-crypt:'));
    assert.equal(identity(crypt('[poof-backup]\ntype = alias\nremote = /a\n'), 'poof-crypt:'), identity(crypt('[poof-backup]\ntype = alias\nremote = /a\n').replace('password = x', 'password = y'), 'poof-crypt:'));
    assert.notEqual(identity(s3(''), 'poof-backup:other'), base, 'another bucket');
  });
});
