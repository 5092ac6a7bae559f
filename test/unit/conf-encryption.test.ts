import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rclonePasswordCommand } from '../../src/commands/conf-encryption.js';
import { decryptConf, encryptConf, isEncryptedConf, newConfPassword, normalisePassword, usablePassword } from '../../src/rclone/conf-crypt.js';
import { forgetConfPassword, keychainFor, keychainPassword, storeConfPassword, type KeychainCall } from '../../src/rclone/conf-password.js';
import { ConfigError } from '../../src/errors.js';
import type { ProgramResult } from '../../src/process/run.js';

/**
 * Written by rclone 1.75.2 itself (`rclone config encryption set` over "[r]\ntype = local\n",
 * the password from a --password-command printing "pässwörd ﬁ"): poof must read rclone's file.
 */
const RCLONE_WROTE = '# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\ntDHL3mEIwM2MQmVt5Ebu4+hMrB7EUHItrCHbvp10Wu3Hu2WSxBBtnHn45R+XX3wP9gUNNPXQDvV/Jg==';
const RCLONE_PASSWORD = 'pässwörd ﬁ\n';

describe('rclone config encryption', () => {
  it('opens a file rclone encrypted, with the password normalised as rclone does (line end off, NFKC)', async () => {
    assert.equal(isEncryptedConf(RCLONE_WROTE), true);
    const opened = await decryptConf(RCLONE_WROTE, normalisePassword(RCLONE_PASSWORD)!);
    assert.deepEqual(opened, { ok: true, text: '[r]\ntype = local\n\n' });
    // The ligature normalises to "fi": the same key.
    assert.deepEqual(await decryptConf(RCLONE_WROTE, 'pässwörd fi'), opened);
  });

  it('encrypts so that only the same password opens it, with a new nonce each time', async () => {
    const plain = '[poof-backup]\ntype = s3\nsecret_access_key = abc\n';
    const a = await encryptConf(plain, 'correct horse');
    const b = await encryptConf(plain, 'correct horse');
    assert.notEqual(a, b);
    assert.equal(a.includes('secret_access_key'), false);
    assert.equal(a.includes('abc'), false);
    assert.equal(isEncryptedConf(a), true);
    assert.deepEqual(await decryptConf(a, 'correct horse'), { ok: true, text: plain });
    assert.deepEqual(await decryptConf(a, 'correct horsf'), { ok: false, reason: 'password' });
  });

  it('tells a damaged file and an unknown format from a wrong password', async () => {
    const good = await encryptConf('[a]\ntype = local\n', 'pw');
    const cut = good.slice(0, good.indexOf('RCLONE_ENCRYPT_V0:') + 'RCLONE_ENCRYPT_V0:'.length + 20);
    assert.deepEqual(await decryptConf(cut, 'pw'), { ok: false, reason: 'damaged' });
    assert.deepEqual(await decryptConf(good.replace('RCLONE_ENCRYPT_V0:\n', 'RCLONE_ENCRYPT_V0:\n!!'), 'pw'), { ok: false, reason: 'damaged' });
    assert.deepEqual(await decryptConf(good.replace('RCLONE_ENCRYPT_V0:', 'RCLONE_ENCRYPT_V1:'), 'pw'), { ok: false, reason: 'version' });
    // One flipped byte of the data is caught by Poly1305 (it cannot be told from a wrong password).
    const at = good.lastIndexOf('\n', good.length - 2) + 10;
    const flipped = good.slice(0, at) + (good[at] === 'A' ? 'B' : 'A') + good.slice(at + 1);
    assert.deepEqual(await decryptConf(flipped, 'pw'), { ok: false, reason: 'password' });
  });

  it('finds the mark as rclone does: after comments and blank lines, never in a plain file', () => {
    assert.equal(isEncryptedConf('; note\n# more\n\n  RCLONE_ENCRYPT_V0:\nAAAA'), true);
    assert.equal(isEncryptedConf('[a]\ntype = local\n# RCLONE_ENCRYPT_V0:\n'), false);
    assert.equal(isEncryptedConf(''), false);
  });

  it('refuses passwords rclone refuses, and makes strong ones', () => {
    assert.equal(normalisePassword('\r\n'), undefined);
    assert.equal(normalisePassword('  \n'), undefined);
    assert.equal(normalisePassword('x\r\n'), 'x');
    assert.equal(normalisePassword(' x '), ' x ');
    // rclone takes $RCLONE_CONFIG_PASS as it is (only a command's output loses its line ends).
    assert.equal(usablePassword('x\n'), true);
    assert.equal(usablePassword(' \t'), false);
    const pw = newConfPassword();
    assert.match(pw, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(pw, newConfPassword());
  });

  it('quotes a password command as rclone splits it (spaces and double quotes)', () => {
    assert.equal(rclonePasswordCommand(['secret-tool', 'lookup', 'file', '/a b/"c".conf']), 'secret-tool lookup file "/a b/""c"".conf"');
  });
});

/** A keychain program that answers as recorded, and remembers every call. */
function recordedKeychain(answers: Array<Partial<ProgramResult>>) {
  const calls: KeychainCall[] = [];
  const run = async (call: KeychainCall): Promise<ProgramResult> => {
    calls.push(call);
    return { exitCode: 0, stdout: '', stderr: '', timedOut: false, ...answers.shift() };
  };
  return { calls, run };
}

describe('the keychain', () => {
  it('never puts the password in argv: secret-tool and security read it on stdin', () => {
    for (const platform of ['linux', 'darwin'] as const) {
      const keychain = keychainFor(platform);
      assert.ok(keychain);
      const call = keychain.store('/home/a b/rclone-poof.conf', 'S3cretPw');
      assert.equal(call.args.some((arg) => arg.includes('S3cretPw')), false);
      assert.ok(call.input?.includes('S3cretPw'));
      assert.deepEqual(keychain.lookup('/x').args.includes('/x'), true);
    }
    assert.equal(keychainFor('win32'), undefined);
    // macOS: the interactive command quotes the path, so a space or quote in it stays one argument.
    assert.match(keychainFor('darwin')!.store('/a "b"/c', 'pw').input ?? '', / -a "\/a \\"b\\"\/c" -w "pw"\n$/);
  });

  it('asks the keychain for the file by its real path, and tells no entry apart from a keychain that cannot answer', async () => {
    const plain = { env: {}, platform: 'linux' as const };
    const found = recordedKeychain([{ stdout: 'from-keychain\n' }]);
    assert.equal(await keychainPassword('/t/two.conf', plain, found.run), 'from-keychain');
    assert.deepEqual(found.calls[0]?.args, ['lookup', 'service', 'poof', 'file', '/t/two.conf']);
    const none = recordedKeychain([{ exitCode: 1 }]);
    const missing = await keychainPassword('/t/moved.conf', plain, none.run).then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof ConfigError);
    assert.equal(missing.message, '/t/moved.conf is encrypted and the keychain (secret-tool) has no password for /t/moved.conf');
    assert.match(missing.hint ?? '', /kept by the file's path: if the config dir moved, `secret-tool search --all service poof` shows where/);
  });

  it('fails with one line that says why and what to do, never with what the program printed on stdout', async () => {
    const plain = { env: {}, platform: 'linux' as const };
    const locked = recordedKeychain([{ exitCode: 1, stdout: 'LEAKED', stderr: 'secret-tool: Cannot autolaunch D-Bus without X11 $DISPLAY\n' }]);
    const error = await keychainPassword('/t/three.conf', plain, locked.run).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^\/t\/three\.conf is encrypted and the keychain \(secret-tool\) gave no password: secret-tool: Cannot autolaunch D-Bus/);
    assert.equal(error.message.includes('LEAKED'), false);
    assert.match(error.hint ?? '', /RCLONE_CONFIG_PASS/);
    const absent = recordedKeychain([{ exitCode: -1, stderr: 'Command failed with ENOENT: secret-tool lookup\n' }]);
    await assert.rejects(keychainPassword('/t/four.conf', plain, absent.run), /secret-tool is not installed/);
    const empty = recordedKeychain([{ exitCode: 0, stdout: '\n' }]);
    await assert.rejects(keychainPassword('/t/five.conf', plain, empty.run), /has no password for \/t\/five\.conf/);
    const slow = recordedKeychain([{ exitCode: -1, timedOut: true }]);
    await assert.rejects(keychainPassword('/t/six.conf', plain, slow.run), /gave no password: no answer in 20 s/);
  });

  it('says when the keychain did not remove an entry', async () => {
    const unlock = { env: {}, platform: 'linux' as const };
    assert.equal(await forgetConfPassword('/t/x.conf', unlock, recordedKeychain([{}]).run), undefined);
    assert.equal(await forgetConfPassword('/t/x.conf', unlock, recordedKeychain([{ exitCode: 1, stderr: 'locked\n' }]).run), 'locked');
  });

  it('proves a stored password reads back before anything is encrypted with it', async () => {
    const unlock = { env: {}, platform: 'linux' as const };
    const good = recordedKeychain([{}, { stdout: 'pw-1\n' }]);
    assert.equal((await storeConfPassword('/t/six.conf', 'pw-1', unlock, good.run)).name, 'secret-tool');
    assert.deepEqual(good.calls.map((c) => c.args[0]), ['store', 'lookup']);
    const forgetful = recordedKeychain([{}, { exitCode: 1, stderr: 'No such secret\n' }]);
    await assert.rejects(storeConfPassword('/t/seven.conf', 'pw-2', unlock, forgetful.run), /does not give it back: No such secret/);
  });
});
