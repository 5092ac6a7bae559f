import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDefaultConfig, defaultBucket, serializeConfig } from '../../src/config/defaults.js';
import { applyConfigChanges, describeNameProblem, hasChanges, parseMapArg } from '../../src/config/edit.js';
import { resolveDir } from '../../src/fs/paths.js';
import type { PathKind } from '../../src/fs/probe.js';
import { refuseMappedPaths } from '../../src/safety/mapped-paths.js';
import { validateConfig } from '../../src/config/validate.js';

const where = { cwd: '/work', home: '/home/joe' };
// Test titles stay readable when a case is a 256-character name.
const title = (text: string) => JSON.stringify(text.length > 40 ? `${[...text].slice(0, 12).join('')}...(${text.length} long)` : text);

describe('defaults', () => {
  it('names the bucket like the original, made S3-safe', () => {
    assert.equal(defaultBucket('joe', '206ce7879351'), 'poofbackup-joe-206ce7879351');
    assert.equal(defaultBucket('Joe.User', 'abcdefabcdef'), 'poofbackup-joe-user-abcdefabcdef');
    assert.equal(defaultBucket('___', 'abcdefabcdef'), 'poofbackup-user-abcdefabcdef');
    const long = defaultBucket('x'.repeat(100), 'abcdefabcdef');
    assert.ok(long.length <= 63, long);
    assert.match(long, /^[a-z0-9][a-z0-9-]+[a-z0-9]$/);
  });

  it('builds a valid default config, mapping Documents only when it exists', () => {
    const withDocs = buildDefaultConfig({ user: 'joe', hex12: '0123456789ab', poofConf: '/c/poof.conf', documentsDir: '/home/joe/Documents' });
    assert.deepEqual(withDocs.paths, { '/home/joe/Documents': 'Documents' });
    assert.equal(withDocs.remote, 'poof-backup');
    assert.deepEqual(validateConfig(withDocs).errors, []);
    assert.deepEqual(buildDefaultConfig({ user: 'joe', hex12: '0123456789ab', poofConf: '/c/poof.conf' }).paths, {});
  });

  it('serialises with $schema and version first, the rest sorted', () => {
    const text = serializeConfig({ remote: 'r', paths: { '/b': 'B', '/a': 'A' }, bucket: 'b' }, './poof.schema.json');
    assert.deepEqual(Object.keys(JSON.parse(text)), ['$schema', 'version', 'bucket', 'paths', 'remote']);
    assert.ok(text.endsWith('}\n'));
    assert.deepEqual(validateConfig(JSON.parse(text)).errors, []);
  });
});

describe('--map and --unmap', () => {
  // The rule: the last "=" separates DIR from NAME; NAME must be a valid remote name; no "=" means
  // NAME is the directory's own name.
  const accepted: Array<[arg: string, dir: string, name: string, whole: string | undefined]> = [
    ['/home/joe/Documents=Docs', '/home/joe/Documents', 'Docs', '/home/joe/Documents=Docs'],
    ['~/Pictures/', '/home/joe/Pictures', 'Pictures', undefined],
    ['~', '/home/joe', 'joe', undefined],
    ['~=Home', '/home/joe', 'Home', '/work/~=Home'],
    ['data=D', '/work/data', 'D', '/work/data=D'],
    ['data', '/work/data', 'data', undefined],
    ['/x=1=two', '/x=1', 'two', '/x=1=two'],
    ['~/w/a=b=AB', '/home/joe/w/a=b', 'AB', '/home/joe/w/a=b=AB'],
    ['~/w/a=b=a b', '/home/joe/w/a=b', 'a b', '/home/joe/w/a=b=a b'],
    ['/srv/year=2024/=2024', '/srv/year=2024', '2024', '/srv/year=2024/=2024'],
    ['/srv/photos=.hidden', '/srv/photos', '.hidden', '/srv/photos=.hidden'],
    ['/srv/p=ü…', '/srv/p', 'ü…', '/srv/p=ü…'],
    ['/srv/p=' + 'n'.repeat(255), '/srv/p', 'n'.repeat(255), '/srv/p=' + 'n'.repeat(255)],
  ];
  for (const [arg, dir, name, whole] of accepted) {
    it(`--map ${title(arg)} maps ${dir} as ${title(name)}`, () => {
      const expected = whole === undefined ? { dir, name, arg } : { dir, name, arg, whole };
      assert.deepEqual(parseMapArg(arg, where), expected);
    });
  }

  const refused: Array<[arg: string, message: RegExp]> = [
    ['', /^--map "": no directory given; use --map DIR or --map DIR=NAME$/],
    ['=Docs', /^--map "=Docs": no directory before the "="; use --map DIR=NAME$/],
    ['/dir=bad/name', /^--map "\/dir=bad\/name": the name after the last "=" cannot contain "\/"; a directory whose path holds "=" needs the name too: --map "\/dir=bad\/name=NAME"$/],
    ['/srv/a=b/c', /the name after the last "=" cannot contain "\/".*--map "\/srv\/a=b\/c=NAME"$/],
    ['/dir=', /^--map "\/dir=": the name after the last "=" is empty; the last "=" starts NAME, one name without "\/": --map "\/dir=NAME"$/],
    ['/w/a=b=', /the name after the last "=" is empty.*--map "\/w\/a=b=NAME"$/],
    ['/dir=/', /the name after the last "=" cannot contain "\/"/],
    ['/dir=.', /the name after the last "=" cannot be "\." or "\.\."/],
    ['/dir=..', /the name after the last "=" cannot be "\." or "\.\."/],
    ['/dir=a\\b', /the name after the last "=" cannot contain "\\"/],
    ['/dir=a\tb', /^--map "\/dir=a\\tb": the name after the last "=" cannot contain control characters/],
    ['/dir=a\nb', /^--map "\/dir=a\\nb": the name after the last "=" cannot contain control characters/],
    ['/dir=' + 'n'.repeat(256), /the name after the last "=" is longer than 255 characters/],
    ['/', /^--map "\/": \/ has no name of its own; give the remote name: --map "\/=NAME"$/],
    ['/srv/a\u0001b', /^--map "\/srv\/a\\u0001b": its name "a\\u0001b" cannot contain control characters; give the remote name: --map "\/srv\/a\\u0001b=NAME"$/],
  ];
  for (const [arg, message] of refused) {
    it(`refuses --map ${title(arg)} in one line`, () => {
      const parsed = parseMapArg(arg, where);
      assert.ok('error' in parsed, `parsed as ${JSON.stringify(parsed)}`);
      assert.match(parsed.error, message);
      assert.ok(!parsed.error.includes('\n'), 'one line');
    });
  }

  const names: Array<[name: string, problem: string | undefined]> = [
    ['Documents', undefined],
    ['a=b', undefined],
    ['...', undefined],
    ['', 'is empty'],
    ['a/b', 'cannot contain "/"'],
    ['a\\b', 'cannot contain "\\"'],
    ['.', 'cannot be "." or ".."'],
    ['..', 'cannot be "." or ".."'],
    ['a\u001fb', 'cannot contain control characters'],
    ['😀'.repeat(255), undefined],
    ['😀'.repeat(256), 'is longer than 255 characters'],
  ];
  for (const [name, problem] of names) {
    it(`the remote name ${title(name)} ${problem ?? 'is fine'}`, () => {
      assert.equal(describeNameProblem(name), problem);
      // Agree with poof.conf's schema, so --map never accepts a name validation would reject.
      const valid = validateConfig({ bucket: 'b', remote: 'r', paths: { '/d': name } }).errors.length === 0;
      assert.equal(valid, problem === undefined);
    });
  }

  it('resolves directories the same way everywhere', () => {
    assert.equal(resolveDir('~', where), '/home/joe');
    assert.equal(resolveDir('../x/', where), '/x');
  });

  it('adds, replaces and removes mappings', () => {
    const base = { bucket: 'b', paths: { '/home/joe/Documents/': 'Documents', '/home/joe/Music': 'Music' }, remote: 'r' };
    const { config, errors } = applyConfigChanges(base, { map: ['~/Documents=Docs', '/srv/photos'], unmap: ['Music'], remote: 'other', exclude: ['*.tmp'] }, where);
    assert.deepEqual(errors, []);
    assert.deepEqual(config.paths, { '/home/joe/Documents': 'Docs', '/srv/photos': 'photos' });
    assert.equal(config.remote, 'other');
    assert.deepEqual(config.excludes, ['*.tmp']);
    assert.deepEqual(base.paths, { '/home/joe/Documents/': 'Documents', '/home/joe/Music': 'Music' }, 'input untouched');
  });

  it('keeps a directory with "=" intact when directory and name come apart (the wizard)', () => {
    const base = { bucket: 'b', paths: { '/home/joe/w/a=b/': 'old' }, remote: 'r' };
    const { config, errors, mapped } = applyConfigChanges(base, { mappings: [{ dir: '/home/joe/w/a=b', name: 'a=b' }] }, where);
    assert.deepEqual(errors, []);
    assert.deepEqual(config.paths, { '/home/joe/w/a=b': 'a=b' });
    assert.deepEqual(mapped, [], 'only --map arguments need the disk checks');
    assert.deepEqual(validateConfig(config).errors, []);
  });

  it('refuses a bad name given apart from its directory', () => {
    const { config, errors } = applyConfigChanges({ bucket: 'b', paths: {}, remote: 'r' }, { mappings: [{ dir: '/srv/x', name: 'a/b' }] }, where);
    assert.deepEqual(errors, ['the name "a/b" for /srv/x cannot contain "/"']);
    assert.deepEqual(config.paths, {});
  });

  it('reports every bad --map and returns the good ones for the disk checks', () => {
    const { errors, mapped } = applyConfigChanges({ bucket: 'b', paths: {}, remote: 'r' }, { map: ['/a=', '/w/a=b=AB', '/b=x/y'] }, where);
    assert.equal(errors.length, 2);
    assert.match(errors[0] ?? '', /^--map "\/a=": /);
    assert.match(errors[1] ?? '', /^--map "\/b=x\/y": /);
    assert.deepEqual(mapped, [{ dir: '/w/a=b', name: 'AB', arg: '/w/a=b=AB', whole: '/w/a=b=AB' }]);
  });

  it('reports an --unmap that matches nothing', () => {
    const { errors } = applyConfigChanges({ bucket: 'b', paths: {}, remote: 'r' }, { unmap: ['Nope'] }, where);
    assert.match(errors[0] ?? '', /--unmap "Nope": no mapping/);
  });

  it('knows when flags ask for a change', () => {
    assert.equal(hasChanges({}), false);
    assert.equal(hasChanges({ map: [] }), false);
    assert.equal(hasChanges({ mappings: [{ dir: '/a=b', name: 'a=b' }] }), true);
    assert.equal(hasChanges({ symlinks: 'skip' }), true);
  });
});

describe('refuseMappedPaths', () => {
  const disk: Record<string, PathKind> = { '/home/joe/notes.txt': 'file', '/home/joe/a=b': 'directory', '/dev/null': 'other' };
  const probe = async (file: string) => disk[file] ?? 'missing';
  it('refuses a file or other non-directory, and a missing DIR whose whole argument exists', async () => {
    const refusals = await refuseMappedPaths(
      [
        { arg: '/home/joe/notes.txt', dir: '/home/joe/notes.txt', name: 'notes' },
        { arg: '/dev/null', dir: '/dev/null', name: 'null' },
        { arg: '/home/joe/a=b', dir: '/home/joe/a', name: 'b', whole: '/home/joe/a=b' },
      ],
      probe,
    );
    assert.deepEqual(refusals, [
      '--map "/home/joe/notes.txt": /home/joe/notes.txt is a file; --map takes a directory',
      '--map "/dev/null": /dev/null is not a directory; --map takes a directory',
      '--map "/home/joe/a=b": /home/joe/a does not exist, but /home/joe/a=b does; the last "=" starts the name, so give it one: --map "/home/joe/a=b=NAME"',
    ]);
  });
  it('allows a missing directory (a disk not mounted yet)', async () => {
    assert.deepEqual(await refuseMappedPaths([{ arg: '/mnt/usb=Usb', dir: '/mnt/usb', name: 'Usb', whole: '/mnt/usb=Usb' }], probe), []);
  });
});
