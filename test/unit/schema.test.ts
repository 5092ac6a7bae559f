import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { poofConfigSchema } from '../../src/config/schema.js';
import { formatIssue, parseConfigText, validateConfig } from '../../src/config/validate.js';
import { checkConfigText } from '../../src/config/store.js';
import { root } from '../helpers/sandbox.js';

// The two sample files of the original poof's README, byte for byte in structure.
const ORIGINAL_SAMPLES = [
  {
    bucket: 'poofbackup',
    confFile: '/Users/joe-user/Library/Application Support/poof/poof.conf',
    paths: {
      '/Users/joe-user/Documents': 'Documents',
      '/Users/joe-user/Downloads': 'Downloads',
      '/Users/joe-user/Library/Application Support/poof': 'poof-config',
    },
    remote: 'my-poof',
  },
  {
    bucket: 'poofbackup-joe-user-206ce7879351',
    confFile: '/Users/joe-user/Library/Application Support/poof/poof.conf',
    paths: { '/Users/joe-user/CryptoWallet': 'CryptoWallet', '/Users/joe-user/Documents': 'Documents' },
    remote: 'poof-crypt',
  },
  // What the original wrote by default (its config dir mapped to "unittest"), with an uppercase user.
  { bucket: 'poofbackup-Joe-206ce7879351', confFile: '/home/Joe/.config/poof/poof.conf', paths: { '/home/Joe/.config/poof': 'unittest' }, remote: 'poof-backup' },
];

const FULL = {
  $schema: './poof.schema.json',
  version: 1,
  bucket: 'poofbackup-joe-206ce7879351',
  paths: { '/home/joe/Documents': 'Documents', '/home/joe/My Files/': 'My Files ü' },
  remote: 'poof-backup',
  excludes: ['*.tmp', 'node_modules/**'],
  symlinks: 'links',
  notify: false,
  staleAfterHours: 72,
  rclone: { transfers: 8, checkers: 16, bwlimit: '10M', checksum: true, fastList: false, maxDelete: 100 },
};

describe('poof.conf schema: good files', () => {
  for (const [index, sample] of ORIGINAL_SAMPLES.entries()) {
    it(`loads the original poof's file #${index + 1} unchanged`, () => {
      const result = validateConfig(sample);
      assert.deepEqual(result.errors, []);
      assert.deepEqual(result.config, sample);
    });
  }
  it('accepts every new key', () => {
    const result = validateConfig(FULL);
    assert.deepEqual(result.errors, []);
    assert.equal(result.config?.symlinks, 'links');
  });
  it('accepts an empty mapping list (verify reports it instead)', () => {
    assert.deepEqual(validateConfig({ bucket: 'b', paths: {}, remote: 'r' }).errors, []);
  });
});

/** [what is wrong, the data, the field the message must name, a word the message or hint must hold] */
const BAD: Array<[string, unknown, string, RegExp]> = [
  ['missing bucket', { paths: {}, remote: 'r' }, 'bucket', /missing/],
  ['missing paths', { bucket: 'b', remote: 'r' }, 'paths', /missing/],
  ['missing remote', { bucket: 'b', paths: {} }, 'remote', /missing.*rclone remote/],
  ['unknown key', { bucket: 'b', paths: {}, remote: 'r', buckte: 'x' }, 'buckte', /not a known field.*spelling/],
  ['relative local dir', { bucket: 'b', paths: { 'Documents': 'D' }, remote: 'r' }, 'paths["Documents"]', /absolute path.*no ~/],
  ['tilde local dir', { bucket: 'b', paths: { '~/Documents': 'D' }, remote: 'r' }, 'paths["~/Documents"]', /absolute/],
  ['remote name with slash', { bucket: 'b', paths: { '/a': 'x/y' }, remote: 'r' }, 'paths["/a"]', /without "\/"/],
  ['remote name ..', { bucket: 'b', paths: { '/a': '..' }, remote: 'r' }, 'paths["/a"]', /invalid value/],
  ['empty remote name', { bucket: 'b', paths: { '/a': '' }, remote: 'r' }, 'paths["/a"]', /invalid value/],
  ['remote name not text', { bucket: 'b', paths: { '/a': 3 }, remote: 'r' }, 'paths["/a"]', /text/],
  ['bucket with slash', { bucket: 'a/b', paths: {}, remote: 'r' }, 'bucket', /without "\/"/],
  ['bucket not text', { bucket: 12, paths: {}, remote: 'r' }, 'bucket', /text in quotes/],
  ['remote with colon', { bucket: 'b', paths: {}, remote: 'r:x' }, 'remote', /letters, digits/],
  ['paths as a list', { bucket: 'b', paths: ['/a'], remote: 'r' }, 'paths', /object/],
  ['version from the future', { version: 2, bucket: 'b', paths: {}, remote: 'r' }, 'version', /one of 1/],
  ['bad symlinks mode', { bucket: 'b', paths: {}, remote: 'r', symlinks: 'maybe' }, 'symlinks', /"follow", "links", "skip"/],
  ['excludes not a list', { bucket: 'b', paths: {}, remote: 'r', excludes: '*.tmp' }, 'excludes', /list/],
  ['empty exclude', { bucket: 'b', paths: {}, remote: 'r', excludes: [''] }, 'excludes[0]', /invalid value/],
  ['zero transfers', { bucket: 'b', paths: {}, remote: 'r', rclone: { transfers: 0 } }, 'rclone.transfers', /whole number from 1 to 256/],
  ['fractional checkers', { bucket: 'b', paths: {}, remote: 'r', rclone: { checkers: 1.5 } }, 'rclone.checkers', /whole number/],
  ['unknown rclone key', { bucket: 'b', paths: {}, remote: 'r', rclone: { deleteBefore: true } }, 'rclone.deleteBefore', /not a known field/],
  ['checksum as text', { bucket: 'b', paths: {}, remote: 'r', rclone: { checksum: 'yes' } }, 'rclone.checksum', /true or false/],
  ['notify as text', { bucket: 'b', paths: {}, remote: 'r', notify: 'no' }, 'notify', /true or false/],
  ['zero staleAfterHours', { bucket: 'b', paths: {}, remote: 'r', staleAfterHours: 0 }, 'staleAfterHours', /whole number from 1 to 8760/],
  ['not an object', ['bucket'], '(top level)', /object/],
  ['two dirs, one name', { bucket: 'b', paths: { '/a': 'Docs', '/b': 'Docs' }, remote: 'r' }, 'paths["/b"]', /overwrite each other/],
  ['same dir twice', { bucket: 'b', paths: { '/a/x': 'X', '/a/x/': 'Y' }, remote: 'r' }, 'paths["/a/x/"]', /same directory/],
];

describe('poof.conf schema: bad files name the field and the fix', () => {
  for (const [what, data, field, pattern] of BAD) {
    it(what, () => {
      const result = validateConfig(data);
      assert.equal(result.config, undefined);
      const issue = result.errors.find((e) => e.field === field);
      assert.ok(issue, `no error for ${field} in ${JSON.stringify(result.errors)}`);
      assert.match(formatIssue(issue), pattern);
      assert.match(formatIssue(issue), new RegExp(`^poof\\.conf: ${field.replace(/[[\]().*"~/]/g, '\\$&')} `));
    });
  }

  it('reports every problem at once (allErrors)', () => {
    const result = validateConfig({ bucket: 1, paths: { rel: 'x' }, remote: 'a b', extra: true });
    assert.deepEqual(result.errors.map((e) => e.field).sort(), ['bucket', 'extra', 'paths["rel"]', 'remote']);
  });

  it('names the line and column of a JSON syntax error', () => {
    const parsed = parseConfigText('{\n  "bucket": "b",\n  "paths": {},\n}\n');
    assert.equal(parsed.data, undefined);
    assert.match(formatIssue(parsed.errors[0]!), /not valid JSON at line 4, column 1/);
  });

  it('checkConfigText joins parsing and validation', () => {
    assert.equal(checkConfigText('{"bucket":"b","paths":{},"remote":"r"}').errors.length, 0);
    assert.equal(checkConfigText('nope').errors[0]?.field, '(file)');
  });
});

describe('poof.conf schema: warnings', () => {
  it('warns about nested mapped directories and names differing by case', () => {
    const result = validateConfig({ bucket: 'b', paths: { '/h/docs': 'Docs', '/h/docs/sub': 'docs' }, remote: 'r' });
    assert.ok(result.config);
    assert.match(result.warnings.map((w) => w.message).join('\n'), /inside the mapped directory "\/h\/docs"/);
    assert.match(result.warnings.map((w) => w.message).join('\n'), /differs only in case/);
  });
});

describe('schema/poof.schema.json', () => {
  it('is the built schema (shipped for editors)', () => {
    const shipped = JSON.parse(readFileSync(path.join(root, 'schema', 'poof.schema.json'), 'utf8'));
    assert.deepEqual(shipped, poofConfigSchema);
  });
});
