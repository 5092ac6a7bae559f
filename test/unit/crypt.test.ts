import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { couldBeEncrypted, judgeKey } from '../../src/crypt/key-proof.js';
import { CRYPT_REMOTE, cryptPair, generateKey, renderRecoveryKit, wrappedRemote } from '../../src/crypt/layout.js';
import { parseRcloneConf } from '../../src/rclone/ini.js';
import { revealObscured } from '../../src/rclone/obscure.js';

describe('crypt layout', () => {
  const conf = parseRcloneConf('[poof-backup]\ntype = s3\n[poof-crypt]\ntype = crypt\nremote = poof-backup:bkt\n[other]\ntype = alias\nremote = /x\n');
  it('pairs the plain remote with the crypt remote that wraps it, from either side', () => {
    assert.deepEqual(cryptPair(conf, 'poof-backup'), { plain: 'poof-backup', crypt: 'poof-crypt' });
    assert.deepEqual(cryptPair(conf, 'poof-crypt'), { plain: 'poof-backup', crypt: 'poof-crypt' });
    assert.deepEqual(cryptPair(conf, 'other'), { plain: 'other' });
    assert.deepEqual(wrappedRemote(conf.sections[1]!), { remote: 'poof-backup', path: 'bkt' });
    assert.equal(wrappedRemote(conf.sections[2]!), undefined);
    assert.equal(CRYPT_REMOTE, 'poof-crypt');
  });
  it('generates 256-bit keys', () => {
    const a = generateKey();
    assert.equal(Buffer.from(a, 'base64url').length, 32);
    assert.notEqual(a, generateKey());
  });
  it('writes a recovery kit rclone can read, with a how-to', () => {
    const kit = renderRecoveryKit({ remote: 'poof-crypt', wraps: 'poof-backup:bkt', password: 'p1', password2: 'p2', filenameEncryption: 'standard', directoryNameEncryption: 'true' }, new Date('2026-11-22T00:00:00Z'));
    assert.match(kit, /^# poof recovery kit\n# created 2026-11-22T00:00:00.000Z/);
    assert.match(kit, /poof key import THIS-FILE/);
    const parsed = parseRcloneConf(kit);
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.sections[0]?.values, { type: 'crypt', remote: 'poof-backup:bkt', filename_encryption: 'standard', directory_name_encryption: 'true', password: 'p1', password2: 'p2' });
  });
  it('names the mappings and the bucket a new machine must map again, and stays readable by rclone', () => {
    const kit = renderRecoveryKit({ remote: 'poof-crypt', wraps: 'poof-backup:bkt', password: 'p1', password2: 'p2', filenameEncryption: 'standard', directoryNameEncryption: 'true', mappings: { '/home/u/Documents': 'Documents', '/home/u/My Work': 'Work' }, bucket: 'bkt' }, new Date('2026-11-22T00:00:00Z'));
    assert.match(kit, /^# {8}--map "\/home\/u\/Documents=Documents"$/m);
    assert.match(kit, /^# {8}--map "\/home\/u\/My Work=Work"$/m);
    assert.match(kit, /^# {8}--bucket "bkt"$/m);
    assert.deepEqual(parseRcloneConf(kit).errors, []);
  });
  it('reveals what rclone obscured, without running rclone reveal (argv)', () => {
    assert.equal(revealObscured('FmzSsPS0Pcc7uD6_R78OpzGCL6dCB5ZBmhExY_Fm9P1yZk4P-E9FOf_bZZM'), 'correct horse battery staple');
    assert.throws(() => revealObscured('c2hvcnQ'), /too short/);
  });
});

describe('judgeKey', () => {
  it('an empty store proves nothing and refuses nothing', () => {
    assert.deepEqual(judgeKey([], [], ['Docs']), { ok: true, empty: true, detail: 'no encrypted data yet' });
    assert.equal(judgeKey([], ['Docs/'], ['Docs']).empty, true, 'plain mappings in the same bucket are not encrypted names');
  });
  it('stored names that do not decrypt mean a wrong password', () => {
    const proof = judgeKey([], ['q4fl1g2k3mbv1u4nqlqc8e1v0g/', 'Docs/'], ['Docs']);
    assert.equal(proof.ok, false);
    assert.match(proof.detail, /^cannot decrypt: wrong password or not a poof crypt remote \(1 stored names, none decrypts to a mapping or the canary\)/);
  });
  it('garbage that happens to decrypt proves nothing', () => {
    assert.equal(judgeKey(['\u0007x\u0192/'], ['q4fl1g2k3mbv1u4nqlqc8e1v0g/', 'abc'], ['Docs']).ok, false);
  });
  it('a mapping name or the canary coming out proves the keys', () => {
    assert.equal(judgeKey(['Docs/'], ['q4fl1g2k3mbv1u4nqlqc8e1v0g/'], ['Docs']).ok, true);
    assert.equal(judgeKey(['.poof-canary'], ['84gnuqi28b04u16jv6s2le6228'], ['Docs']).ok, true);
    // An append-only vault's folder, made beforehand on a write-only server, before any run.
    assert.equal(judgeKey(['.poof-vault/'], ['90goif3pqn5mi6lvqumikrop8s/'], ['Docs']).ok, true);
  });
  it('a plain tree from a mapping poof.conf no longer has is not encrypted data', () => {
    assert.deepEqual(judgeKey([], ['OldDocs/', 'notes.txt', 'Docs/'], ['New']), { ok: true, empty: true, detail: 'no encrypted data yet' });
    const wrong = judgeKey([], ['OldDocs/', 'q4fl1g2k3mbv1u4nqlqc8e1v0g/'], ['New']);
    assert.equal(wrong.ok, false, 'an encrypted name beside it still has to decrypt');
    assert.match(wrong.detail, /\(1 stored names,/);
  });
});

describe('couldBeEncrypted', () => {
  // Names rclone 1.60.1 and 1.75.2 wrote for "a", ".poof-canary", "Docs/" and a 40-character name.
  const written = ['84gnuqi28b04u16jv6s2le6228', 'hbt2o1fn21mgcbb9k3em3brtjk', 'rjv8vpmo4ccb24hb6rqgu35igg/', 'buhg3fpqi0ecepuj035ca9rt7tfi9rbrjusbunuprrie01i5cmm0'];
  it('every name standard name encryption writes may be encrypted, in either case', () => {
    for (const name of [...written, written[0]!.toUpperCase()]) assert.equal(couldBeEncrypted(name), true, name);
    assert.equal(couldBeEncrypted('rusruv7b5p4p09tef9gu8pmk8u9jjn4gh8o0v11rg1lku78br69eomflde90r5hv2m6ocsj17m842'), true, 'three blocks: 77 characters');
  });
  it('a name outside base32hex, or of a length no whole number of 16-byte blocks encodes to, is plain', () => {
    for (const name of ['Docs/', 'OldDocs/', '.poof-canary', 'notes.txt', 'photos', '84gnuqi28b04u16jv6s2le622/', '84gnuqi28b04u16jv6s2le62288', 'wxyzwxyzwxyzwxyzwxyzwxyzwx', '']) {
      assert.equal(couldBeEncrypted(name), false, name);
    }
  });
  it('base64 names have their own alphabet and lengths; other name encryptions may be anything', () => {
    assert.equal(couldBeEncrypted('AbCdEfGhIjKlMnOpQrSt-_', { filename_encoding: 'base64' }), true);
    assert.equal(couldBeEncrypted('Docs', { filename_encoding: 'base64' }), false);
    assert.equal(couldBeEncrypted('Docs/', { filename_encryption: 'obfuscate' }), true);
    assert.equal(couldBeEncrypted('Docs/', { directory_name_encryption: 'false' }), true);
    assert.equal(couldBeEncrypted('Docs', { filename_encoding: 'base32768' }), true);
  });
});
