import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startKeyring, type Keyring } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

const ENCRYPTED = /^# Encrypted rclone configuration File\n\nRCLONE_ENCRYPT_V0:\n[A-Za-z0-9+/=\n]+$/;

/** secret-tool as the user would run it, against the test's own keyring. */
function lookup(env: Record<string, string>, file: string): { code: number | null; stdout: string } {
  const result = spawnSync('secret-tool', ['lookup', 'service', 'poof', 'file', file], { env, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout };
}

/**
 * rclone-poof.conf encrypted at rest with rclone's own config encryption, its password in a real
 * Secret Service (D-Bus + GNOME Keyring, as a Linux desktop login has), read by secret-tool.
 * Everything poof and rclone do must go on working; a copy of the file must be useless.
 */
describe('secrets at rest: rclone-poof.conf encrypted, its password in the keychain', () => {
  let sb: Sandbox;
  let keyring: Keyring;
  let env: Record<string, string>;
  let conf: string;
  let cloud: string;
  let docs: string;

  before(async () => {
    sb = await makeSandbox();
    keyring = await startKeyring(sb.dir, sb.home);
    env = { ...sb.env, ...keyring.env };
    conf = path.join(sb.confdir, 'rclone-poof.conf');
    cloud = path.join(sb.dir, 'cloud');
    docs = path.join(sb.home, 'Docs');
    await mkdir(docs, { recursive: true });
    await writeFile(path.join(docs, 'notes.txt'), 'first\n');
    assert.equal((await runPoof(['config', '--map', `${docs}=Docs`], { env })).code, 0);
    const made = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--crypt'], { env });
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => {
    await keyring?.stop();
    await sb?.cleanup();
  });

  it('encrypts the file; the keychain holds its password; plain rclone opens it only with the printed command', async () => {
    const before = await readFile(conf, 'utf8');
    assert.match(before, /type = crypt/);
    const result = await runPoof(['cconfig', '--encrypt-config'], { env });
    assert.equal(result.code, 0, result.stderr);
    const text = await readFile(conf, 'utf8');
    assert.match(text, ENCRYPTED);
    for (const clear of ['type', 'password', 'poof-crypt', 'poof-backup', cloud]) assert.equal(text.includes(clear), false, `${clear} is not in the clear`);
    assert.equal((await stat(conf)).mode & 0o777, 0o600);
    const stored = lookup(env, conf);
    assert.equal(stored.code, 0);
    assert.match(stored.stdout, /^[A-Za-z0-9_-]{43}$/);

    const plain = spawnSync('rclone', ['--config', conf, '--ask-password=false', 'listremotes'], { env, encoding: 'utf8' });
    assert.notEqual(plain.status, 0, 'without the password rclone cannot read it');
    assert.match(plain.stderr, /unable to decrypt configuration/);
    const printed = /^plain rclone reads it with: (.+)$/m.exec(result.stdout)?.[1];
    assert.ok(printed, result.stdout);
    const withCommand = spawnSync('sh', ['-c', printed], { env, encoding: 'utf8' });
    assert.equal(withCommand.status, 0, withCommand.stderr);
    assert.deepEqual(withCommand.stdout.trim().split('\n').sort(), ['poof-backup:', 'poof-crypt:']);
    assert.equal(`${result.stdout}${result.stderr}`.includes(stored.stdout), false, 'the password is never printed');
    assert.match(result.stderr, /without that password this file is lost, and with it the crypt keys: keep `poof key export FILE` offline/);
  });

  it('verify says so, and backup, key export and cconfig go on working through it; a rewrite stays encrypted', async () => {
    const verify = await runPoof(['verify'], { env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /secrets at rest: rclone-poof\.conf is encrypted; its password comes from the keychain \(secret-tool\)/);
    const backup = await runPoof(['backup'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    const stored = await readTree(cloud);
    const names = [...stored.keys()];
    assert.equal(names.some((name) => name.includes('notes')), false, 'names are encrypted by crypt');
    assert.ok(names.length >= 2, names.join(', '));
    const kit = path.join(sb.dir, 'kit.txt');
    assert.equal((await runPoof(['key', 'export', kit], { env })).code, 0);
    assert.match(await readFile(kit, 'utf8'), /^password = /m);
    const rewrite = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--force'], { env });
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.match(await readFile(conf, 'utf8'), ENCRYPTED);
    await writeFile(path.join(docs, 'later.txt'), 'second\n');
    assert.equal((await runPoof(['backup'], { env })).code, 0);
    const check = await runPoof(['check'], { env });
    assert.equal(check.code, 0, check.stderr);
  });

  it('without the keychain a run stops before it touches anything, in one line, exit 3; $RCLONE_CONFIG_PASS is the way out', async () => {
    await writeFile(path.join(docs, 'unsent.txt'), 'third\n');
    const stored = await readTree(cloud);
    const noSession = { ...env };
    delete noSession.DBUS_SESSION_BUS_ADDRESS;
    const run = await runPoof(['backup'], { env: noSession });
    assert.equal(run.code, 3, run.stderr);
    assert.match(run.stderr, /^poof: .*rclone-poof\.conf is encrypted and the keychain \(secret-tool\) gave no password: .*; unlock the keychain \(log in\), or give the password in \$RCLONE_CONFIG_PASS/m);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    const wrong = await runPoof(['backup'], { env: { ...noSession, RCLONE_CONFIG_PASS: 'not-the-password' } });
    assert.equal(wrong.code, 3);
    assert.match(wrong.stderr, /gave no password: .*, and \$RCLONE_CONFIG_PASS does not open it/);
    assert.deepEqual(await readTree(cloud), stored, 'nothing on the remote changed');
    const right = await runPoof(['backup'], { env: { ...noSession, RCLONE_CONFIG_PASS: lookup(env, conf).stdout } });
    assert.equal(right.code, 0, right.stderr);
    assert.notDeepEqual(await readTree(cloud), stored);
    const cron = await runPoof(['schedule', 'install', '--every', '6h', '--kind', 'cron', '--print'], { env });
    assert.equal(cron.code, 2);
    assert.match(cron.stderr, /rclone-poof\.conf is encrypted and cron starts jobs outside the login session.*use --kind systemd/);
  });

  it('a $RCLONE_CONFIG_PASS meant for another rclone.conf, or a $RCLONE_PASSWORD_COMMAND, does not stand in the keychain\'s way', async () => {
    await writeFile(path.join(docs, 'fourth.txt'), 'fourth\n');
    const other = await runPoof(['backup'], { env: { ...env, RCLONE_CONFIG_PASS: 'the password of my own rclone.conf' } });
    assert.equal(other.code, 0, other.stderr);
    // rclone asks a password command before $RCLONE_CONFIG_PASS: poof leaves it out when it gives the password.
    const command = await runPoof(['backup'], { env: { ...env, RCLONE_PASSWORD_COMMAND: 'false' } });
    assert.equal(command.code, 0, command.stderr);
    const verify = await runPoof(['verify', '--offline'], { env: { ...env, RCLONE_CONFIG_PASS: 'the password of my own rclone.conf' } });
    assert.match(verify.stdout, /secrets at rest: rclone-poof\.conf is encrypted; its password comes from the keychain/);
  });

  it('replaced crypt keys are kept encrypted like the file, and `poof key import` reads them back from that copy', async () => {
    const replace = await runPoof(['cconfig', '--crypt', '--force', '--replace-keys'], { env });
    assert.equal(replace.code, 0, replace.stderr);
    const kept = /the replaced keys are kept in (\S+) \(mode 600, encrypted as rclone-poof\.conf is\)/.exec(replace.stderr)?.[1];
    assert.ok(kept, replace.stderr);
    assert.match(await readFile(kept, 'utf8'), ENCRYPTED);
    assert.equal((await stat(kept)).mode & 0o777, 0o600);
    assert.equal(lookup(env, kept).code, 0, 'the copy has its own keychain entry');
    assert.match(await readFile(conf, 'utf8'), ENCRYPTED);
    const refused = await runPoof(['backup'], { env });
    assert.equal(refused.code, 1, 'the new keys cannot read what the old ones wrote');
    const restored = await runPoof(['key', 'import', kept, '--force', '--replace-keys'], { env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(await readFile(conf, 'utf8'), ENCRYPTED);
    const backup = await runPoof(['backup'], { env });
    assert.equal(backup.code, 0, backup.stderr);
  });

  it('a copy of the file on another machine (another keychain) is useless there', async () => {
    const other = await makeSandbox();
    const otherKeyring = await startKeyring(other.dir, other.home);
    try {
      const otherEnv = { ...other.env, ...otherKeyring.env };
      await mkdir(other.confdir, { recursive: true, mode: 0o700 });
      await copyFile(path.join(sb.confdir, 'poof.conf'), path.join(other.confdir, 'poof.conf'));
      await copyFile(conf, path.join(other.confdir, 'rclone-poof.conf'));
      const verify = await runPoof(['verify', '--offline'], { env: otherEnv });
      assert.equal(verify.code, 4, verify.stdout);
      assert.match(verify.stdout, /FAIL\s+rclone-poof\.conf: .*is encrypted and the keychain \(secret-tool\) has no password for .*if the config dir moved/);
      const download = await runPoof(['download', '--yes'], { env: otherEnv });
      assert.equal(download.code, 3, download.stderr);
    } finally {
      await otherKeyring.stop();
      await other.cleanup();
    }
  });

  it('the keychain refusing to store leaves the file as it was; --decrypt-config puts it back in the clear and forgets the password', async () => {
    const encrypted = await readFile(conf, 'utf8');
    const decrypt = await runPoof(['cconfig', '--decrypt-config'], { env });
    assert.equal(decrypt.code, 0, decrypt.stderr);
    const clear = await readFile(conf, 'utf8');
    assert.match(clear, /^\[poof-crypt\]$/m);
    assert.equal((await stat(conf)).mode & 0o777, 0o600);
    assert.equal(lookup(env, conf).code, 1, 'the keychain entry is gone');
    assert.notEqual(clear, encrypted);
    const noSession = { ...env };
    delete noSession.DBUS_SESSION_BUS_ADDRESS;
    const refused = await runPoof(['cconfig', '--encrypt-config'], { env: noSession });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /the keychain \(secret-tool\) did not store the password/);
    assert.equal(await readFile(conf, 'utf8'), clear, 'no partial write');
    const verify = await runPoof(['verify', '--offline'], { env });
    assert.match(verify.stdout, /secrets at rest: rclone-poof\.conf is not encrypted: rclone only obscures the keys in it/);
    assert.equal((await runPoof(['backup'], { env })).code, 0);
  });

  it('a cron schedule, which cannot reach the keychain, stops --encrypt-config before anything changes', async () => {
    // As `poof schedule install --kind cron` notes it in the state dir.
    const state = path.join(sb.dir, 'cron-state');
    await mkdir(state, { recursive: true });
    await writeFile(path.join(state, 'schedule.json'), `${JSON.stringify({ kind: 'cron', cadence: { every: { count: 6, unit: 'h' } }, command: 'backup' })}\n`);
    const clear = await readFile(conf, 'utf8');
    const refused = await runPoof(['cconfig', '--encrypt-config'], { env: { ...env, POOF_STATE_DIR: state } });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /a cron schedule runs poof here, and cron starts jobs outside the login session.*poof schedule remove --kind cron/);
    assert.equal(await readFile(conf, 'utf8'), clear);
    assert.equal(lookup(env, conf).code, 1, 'nothing was stored in the keychain');
  });
});
