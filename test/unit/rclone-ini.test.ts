import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findPlaceholders, findSection, parseRcloneConf, upsertSection } from '../../src/rclone/ini.js';

// The original poof's sample rclone-poof.conf, placeholders included.
const ORIGINAL = `[poof-backup]
type = s3
provider = AWS
env_auth = false
access_key_id = BOGUS-KEY-USE-YOURS
secret_access_key = BOGUS-SECRET-KEY-USE-YOURS
region = eu-west-1

[poof-crypt]
type = crypt
remote = poof:poofbackup-joe-user-206ce7879351
password = BOGUS-PASSWORD
password2 = BOGUS-PASSWORD2
`;

describe('parseRcloneConf', () => {
  it('reads sections and values', () => {
    const conf = parseRcloneConf(`# comment\n; other\n${ORIGINAL}`);
    assert.deepEqual(conf.errors, []);
    assert.deepEqual(conf.sections.map((s) => s.name), ['poof-backup', 'poof-crypt']);
    assert.equal(findSection(conf, 'poof-crypt')?.values.remote, 'poof:poofbackup-joe-user-206ce7879351');
    assert.equal(findSection(conf, 'poof-backup')?.line, 3);
    assert.equal(findSection(conf, 'missing'), undefined);
  });
  it('keeps "=" inside values and trims around them', () => {
    const conf = parseRcloneConf('[r]\nendpoint =  https://x/?a=b  \n');
    assert.equal(conf.sections[0]?.values.endpoint, 'https://x/?a=b');
  });
  it('reports broken lines with their numbers', () => {
    assert.match(parseRcloneConf('type = s3\n').errors[0] ?? '', /line 1: "type" is outside any \[section\]/);
    assert.match(parseRcloneConf('[r]\njust words\n').errors[0] ?? '', /line 2: expected "key = value"/);
    assert.match(parseRcloneConf('[r]\n[r]\n').errors[0] ?? '', /\[r\] appears twice/);
    assert.match(parseRcloneConf('[]\n').errors[0] ?? '', /empty section name/);
  });
});

describe('findPlaceholders', () => {
  it('finds the original poof scaffolding values', () => {
    const conf = parseRcloneConf(ORIGINAL);
    assert.deepEqual(findPlaceholders(conf.sections[0]!), ['access_key_id', 'secret_access_key']);
    assert.deepEqual(findPlaceholders(conf.sections[1]!), ['password', 'password2']);
  });
  it('leaves real-looking values alone', () => {
    const conf = parseRcloneConf('[r]\naccess_key_id = AKIAIOSFODNN7EXAMPLE\nsecret_access_key = wJalrXUtnFEMI/K7MDENG\n');
    assert.deepEqual(findPlaceholders(conf.sections[0]!), []);
  });
});

describe('upsertSection', () => {
  it('appends to an empty file', () => {
    assert.equal(upsertSection('', 'r', '[r]\ntype = alias\n'), '[r]\ntype = alias\n');
  });
  it('replaces only the named section, keeping the others and comments', () => {
    const before = '# mine\n[a]\ntype = local\n\n[r]\ntype = s3\nold = 1\n\n[z]\ntype = b2\n';
    const after = upsertSection(before, 'r', '[r]\ntype = alias\nremote = /x\n');
    assert.equal(after, '# mine\n[a]\ntype = local\n\n[r]\ntype = alias\nremote = /x\n\n[z]\ntype = b2\n');
  });
  it('replaces a last section and appends a new one after a blank line', () => {
    assert.equal(upsertSection('[a]\nx = 1\n[r]\ny = 2\n', 'r', '[r]\ny = 3'), '[a]\nx = 1\n[r]\ny = 3\n');
    assert.equal(upsertSection('[a]\nx = 1\n\n\n', 'r', '[r]\ny = 3\n'), '[a]\nx = 1\n\n[r]\ny = 3\n');
  });
});
