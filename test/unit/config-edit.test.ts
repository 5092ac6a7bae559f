import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDefaultConfig, defaultBucket, serializeConfig } from '../../src/config/defaults.js';
import { applyConfigChanges, hasChanges, parseMapArg, resolveDir } from '../../src/config/edit.js';
import { validateConfig } from '../../src/config/validate.js';

const where = { cwd: '/work', home: '/home/joe' };

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
  it('parses DIR=NAME, DIR alone, ~ and relative paths', () => {
    assert.deepEqual(parseMapArg('/home/joe/Documents=Docs', where), { dir: '/home/joe/Documents', name: 'Docs' });
    assert.deepEqual(parseMapArg('~/Pictures/', where), { dir: '/home/joe/Pictures', name: 'Pictures' });
    assert.deepEqual(parseMapArg('data=D', where), { dir: '/work/data', name: 'D' });
    assert.deepEqual(parseMapArg('/srv/a=b/c', where), { dir: '/srv/a=b/c', name: 'c' }, 'a "/" after "=" means no name');
    assert.deepEqual(parseMapArg('/x=1=two', where), { dir: '/x=1', name: 'two' });
    assert.ok('error' in parseMapArg('=Docs', where));
    assert.ok('error' in parseMapArg('/', where));
  });

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

  it('reports an --unmap that matches nothing', () => {
    const { errors } = applyConfigChanges({ bucket: 'b', paths: {}, remote: 'r' }, { unmap: ['Nope'] }, where);
    assert.match(errors[0] ?? '', /--unmap "Nope": no mapping/);
  });

  it('knows when flags ask for a change', () => {
    assert.equal(hasChanges({}), false);
    assert.equal(hasChanges({ map: [] }), false);
    assert.equal(hasChanges({ symlinks: 'skip' }), true);
  });
});
