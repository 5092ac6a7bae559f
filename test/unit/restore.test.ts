import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRestoreArgs, buildSizeArgs } from '../../src/rclone/args.js';
import { parseRcloneConf } from '../../src/rclone/ini.js';
import { resolveRemote } from '../../src/rclone/remote.js';
import { dryRunAction, parseLogLine } from '../../src/rclone/log-parse.js';
import { parseSize } from '../../src/restore/inspect.js';
import { countEndangered, planRestoreTargets, sortChanges } from '../../src/restore/plan.js';
import { refuseRemoteNames } from '../../src/safety/remote-names.js';
import { formatRestorePlan } from '../../src/ui/restore-plan.js';
import { refuseTarget } from '../../src/safety/targets.js';
import { fidelityCheck } from '../../src/verify/checks/fidelity.js';
import { settingsFor } from '../helpers/transfer.js';

const places = { home: '/home/joe', configDir: '/home/joe/.config/poof', stateDir: '/home/joe/.local/state/poof' };

describe('refuseTarget', () => {
  const table: Array<[string, RegExp | undefined]> = [
    ['/', /is the root directory/],
    ['/home/joe', /is your home directory itself/],
    ['/home/joe/', /is your home directory itself/],
    ['/home', /contains your home directory/],
    ['/home/joe/.config/poof', /is poof's config directory/],
    ['/home/joe/.config', /contains poof's config directory/],
    ['/home/joe/.config/poof/sub', /is inside poof's config directory/],
    ['/home/joe/.local/state/poof', /is poof's state directory/],
    ['/home/joe/.local', /contains poof's state directory/],
    ['/home/joe/Documents', undefined],
    ['/home/joe/.config/poofish', undefined],
    ['/home/joe/..joe', undefined],
    ['/mnt/data', undefined],
  ];
  for (const [dir, expected] of table) {
    it(`${dir} -> ${expected ? 'refused' : 'allowed'}`, () => {
      const reason = refuseTarget(dir, places);
      if (expected) assert.match(reason ?? '', expected);
      else assert.equal(reason, undefined);
    });
  }
});

describe('dry-run lines', () => {
  it('maps rclone 1.60 messages to actions', () => {
    assert.equal(dryRunAction('Skipped copy as --dry-run is set (size 2)'), 'copy');
    assert.equal(dryRunAction('Skipped delete as --dry-run is set (size 6)'), 'delete');
    assert.equal(dryRunAction('Skipped update modification time as --dry-run is set (size 5)'), 'touch');
    assert.equal(dryRunAction('Skipped remove directory as --dry-run is set'), 'directory');
    assert.equal(dryRunAction('Copied (new)'), undefined);
  });
  it('carries the size of a skipped object', () => {
    const event = parseLogLine('{"level":"warning","msg":"Skipped copy as --dry-run is set (size 2)","object":"a b/c","size":2,"skipped":"copy"}');
    assert.deepEqual(event, { kind: 'file', action: 'skipped', object: 'a b/c', message: 'Skipped copy as --dry-run is set (size 2)', size: 2 });
  });
});

describe('restore plan', () => {
  const items = [
    { action: 'copy' as const, object: 'new.txt', size: 10 },
    { action: 'copy' as const, object: 'changed.txt', size: 20 },
    { action: 'delete' as const, object: 'only-local.txt', size: 30 },
    { action: 'touch' as const, object: 'same.txt', size: 5 },
    { action: 'directory' as const, object: 'empty' },
  ];
  const changes = sortChanges(items, new Map([['changed.txt', 7]]));
  it('sorts copies onto existing local files into replacements, with the local size at stake', () => {
    assert.deepEqual(changes, {
      restore: [{ path: 'new.txt', size: 10 }],
      replace: [{ path: 'changed.txt', size: 7 }],
      remove: [{ path: 'only-local.txt', size: 30 }],
      touch: 1,
    });
    assert.deepEqual(countEndangered([changes, undefined]), { files: 2, bytes: 37 });
  });
  it('lists endangered files up to a limit, then counts the rest', () => {
    const lines = formatRestorePlan({ name: 'Docs', localDir: '/home/joe/Docs', remotePath: 'r:b/Docs', remoteFiles: 3, remoteBytes: 2048, changes }, 1);
    assert.deepEqual(lines, [
      'Docs: /home/joe/Docs <- r:b/Docs (3 files, 2.00 KiB on the remote)',
      '  1 new file (10 B) to restore; 1 local file to replace; 1 local file to delete; 1 modification time to correct',
      '  replace  changed.txt (7 B)',
      '  ... and 1 more (`poof download --dry-run --json` lists every one)',
    ]);
    assert.deepEqual(formatRestorePlan({ name: 'X', localDir: '/x', remotePath: 'r:b/X', refusal: 'no copy' }, 5), ['X: /x <- r:b/X: REFUSED: no copy']);
  });
  it('targets each mapping, or DIR/NAME with --to, refusing dangerous ones', () => {
    const conf = parseRcloneConf('[r]\ntype = alias\nremote = /cloud\n');
    const config = { bucket: 'b', paths: { '/home/joe/Docs': 'Docs', '/home/joe': 'Home' }, remote: 'r' };
    const input = { config, remote: resolveRemote(config, conf.sections[0]!, undefined, '/c'), places };
    const targets = planRestoreTargets(input);
    assert.deepEqual(targets[0], { name: 'Docs', localDir: '/home/joe/Docs', remotePath: 'r:b/Docs' });
    assert.match(targets[1]?.refusal ?? '', /home directory itself/);
    const beside = planRestoreTargets({ ...input, to: '/tmp/r/', only: ['Home'] });
    assert.deepEqual(beside, [{ name: 'Home', localDir: '/tmp/r/Home', remotePath: 'r:b/Home' }]);
  });
});

describe('restore argv', () => {
  const base = { remotePath: 'r:b/Docs', localDir: '/home/joe/Docs' };
  it('restores into a staging directory with the backup\'s flags, only what differs locally, never --max-delete', () => {
    const args = buildRestoreArgs({ ...base, ...settingsFor('s3', { config: { excludes: ['*.tmp'], rclone: { maxDelete: 5 } } }), stagingDir: '/home/joe/Docs/.poof-restore-1' });
    assert.deepEqual(args.slice(0, 3), ['copy', 'r:b/Docs', '/home/joe/Docs/.poof-restore-1']);
    for (const flag of ['--config', '--ask-password=false', '--copy-links', '--metadata', '--checksum', '--fast-list', '--use-json-log']) assert.ok(args.includes(flag), flag);
    assert.equal(args[args.indexOf('--compare-dest') + 1], '/home/joe/Docs');
    assert.equal(args[args.indexOf('--exclude') + 1], '*.tmp');
    assert.equal(args[args.lastIndexOf('--exclude') + 1], '/.poof-restore-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]/**', 'staging directories are never copied or deleted');
    assert.ok(!args.includes('--max-delete') && !args.includes('--dry-run') && !args.includes('--backup-dir'));
  });
  it('plans with a dry run of the mirror', () => {
    const args = buildRestoreArgs({ ...base, ...settingsFor('sftp') });
    assert.deepEqual(args.slice(0, 3), ['sync', 'r:b/Docs', '/home/joe/Docs']);
    assert.ok(args.includes('--dry-run') && !args.includes('--compare-dest') && !args.includes('--metadata'));
  });
  it('sizes the remote copy with short timeouts', () => {
    assert.deepEqual(buildSizeArgs('/c', 'r:b/D', ['x']).slice(0, 3), ['size', 'r:b/D', '--json']);
    assert.deepEqual(parseSize('{"count":3,"bytes":12}\n'), { count: 3, bytes: 12 });
    assert.equal(parseSize('oops'), undefined);
  });
});

describe('fidelity', () => {
  const conf = parseRcloneConf('[l]\ntype = alias\nremote = /x\n[s]\ntype = sftp\n[c]\ntype = crypt\nremote = s3:b\n[s3]\ntype = s3\n');
  const config = { bucket: 'b', paths: {}, remote: 'x' };
  it('says what each storage keeps', () => {
    assert.match(fidelityCheck(config, resolveRemote(config, conf.sections[0]!, undefined, '/c')).detail, /^a local directory keeps contents, modification times, file modes and owners, empty directories; symbolic links followed/);
    assert.match(fidelityCheck(config, resolveRemote(config, conf.sections[1]!, undefined, '/c')).detail, /^sftp keeps contents, modification times, empty directories; not file modes and owners/);
    const detection = { modTime: true, hashes: ['md5', 'sha1'], sizeOnly: false, precisionNs: 1e9 };
    assert.match(fidelityCheck(config, resolveRemote(config, conf.sections[1]!, undefined, '/c'), detection).detail, /; files sent are checked by size, not hashed on the server \(SSH checks every byte in transit; rclone\.hashCheck: true to run md5sum per file\)$/);
    const hashing = { ...config, rclone: { hashCheck: true } };
    assert.match(fidelityCheck(hashing, resolveRemote(hashing, conf.sections[1]!, undefined, '/c'), detection).detail, /; each file sent is hashed on the server \(md5sum over SSH, rclone\.hashCheck\)$/);
    assert.doesNotMatch(fidelityCheck(config, resolveRemote(config, conf.sections[0]!, undefined, '/c'), detection).detail, /hashed on the server/);
    assert.match(fidelityCheck({ ...config, symlinks: 'links' }, resolveRemote({ ...config, symlinks: 'links' }, conf.sections[2]!, conf.sections[3], '/c')).detail, /^crypt over s3 keeps contents, modification times; not file modes and owners or empty directories; symbolic links kept as links/);
  });
});

describe('remote names a restore refuses (an altered remote copy)', () => {
  it('a name that climbs out of the directory, on every rclone version', () => {
    for (const name of ['../../.bashrc', 'a/../../b', '/etc/passwd', 'a/./b', 'a//b']) {
      assert.ok(refuseRemoteNames(['ok.txt', name], false)?.includes(`named ${JSON.stringify(name)}, which would be written outside`), name);
    }
    assert.equal(refuseRemoteNames(['ok.txt', 'a/b/c..d', '..hidden', 'x/...'], false), undefined);
  });

  it('in links mode, a link beside files inside a directory of its name', () => {
    assert.match(refuseRemoteNames(['evil.rclonelink', 'evil/payload.txt'], true) ?? '', /both a link "evil" and files inside a directory of that name/);
    assert.match(refuseRemoteNames(['a/evil.rclonelink', 'a/evil/deep/x'], true) ?? '', /both a link "a\/evil"/);
    assert.equal(refuseRemoteNames(['evil.rclonelink', 'evil2/payload.txt', 'other.rclonelink'], true), undefined);
    // Without links mode a ".rclonelink" file is an ordinary file.
    assert.equal(refuseRemoteNames(['evil.rclonelink', 'evil/payload.txt'], false), undefined);
  });
});
