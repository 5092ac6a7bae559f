import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRcloneShim } from '../helpers/rclone-shim.js';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startS3, type RunningServer } from '../helpers/servers.js';
import { readTree, writeSampleTree } from '../helpers/tree.js';

const MARKER = 'PLAINTEXT-MARKER-7f3a';

/** Every file name and byte below dir, to look for anything stored in the clear. */
async function storedNamesAndBytes(dir: string): Promise<{ names: string[]; bytes: Buffer }> {
  const entries = await readdir(dir, { recursive: true });
  const files = await readTree(dir);
  return { names: entries.map((e) => path.basename(e)), bytes: Buffer.concat([...files.values()]) };
}

function assertNothingInTheClear(stored: { names: string[]; bytes: Buffer }, original: Map<string, Buffer>): void {
  const plainNames = new Set([...original.keys()].flatMap((rel) => rel.split('/')));
  for (const name of stored.names) assert.ok(!plainNames.has(name) && name !== 'My Files', `"${name}" is stored in the clear`);
  assert.equal(stored.bytes.includes(MARKER), false, 'file contents are stored in the clear');
}

async function setup(): Promise<{ sb: Sandbox; src: string; original: Map<string, Buffer> }> {
  const sb = await makeSandbox();
  const src = path.join(sb.home, 'My Files');
  await writeSampleTree(src);
  await writeFile(path.join(src, 'secret.txt'), `${MARKER}\n`.repeat(50));
  const original = await readTree(src);
  assert.equal((await runPoof(['config', '--map', `${src}=My Files`, '--bucket', 'bkt'], { env: sb.env })).code, 0);
  return { sb, src, original };
}

describe('crypt over a local directory', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let cloud: string;
  let argvLog: string;
  before(async () => {
    ctx = await setup();
    cloud = path.join(ctx.sb.dir, 'cloud');
  });
  after(() => ctx.sb.cleanup());

  it('cconfig --crypt writes a crypt remote with generated keys, never in argv or output, and turns encryption on', async () => {
    const shim = await writeRcloneShim(ctx.sb.dir);
    argvLog = shim.argvLog;
    const made = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--crypt'], { env: { ...ctx.sb.env, POOF_RCLONE: shim.shim } });
    assert.equal(made.code, 0, made.stderr);
    assert.match(await readFile(argvLog, 'utf8'), /^obscure -/m);
    assert.match(made.stderr, /encryption is on: poof\.conf now uses \[poof-crypt\]/);
    assert.match(made.stdout, /password = \*\*\*/);
    const conf = await readFile(path.join(ctx.sb.confdir, 'rclone-poof.conf'), 'utf8');
    assert.match(conf, /\[poof-crypt\]\ntype = crypt\nremote = poof-backup:bkt\nfilename_encryption = standard\ndirectory_name_encryption = true\npassword = \S{40,}\npassword2 = \S{40,}/);
    assert.equal((await stat(path.join(ctx.sb.confdir, 'rclone-poof.conf'))).mode & 0o777, 0o600);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /ok {2}encryption: on: \[poof-crypt\] is a crypt remote over poof-backup:bkt/);
    assert.match(verify.stdout, /ok {2}encryption keys: no encrypted data yet; a canary written through \[poof-crypt\] reads back, and poof-backup:bkt shows no plain name/);
  });

  it('backup stores no plaintext name or content; download restores byte for byte', async () => {
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assertNothingInTheClear(await storedNamesAndBytes(path.join(cloud, 'bkt')), ctx.original);
    const into = path.join(ctx.sb.dir, 'restored');
    const restored = await runPoof(['download', '--to', into], { env: ctx.sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'My Files')), ctx.original);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.match(verify.stdout, /ok {2}encryption keys: the keys decrypt the stored names \(.*My Files/);
  });

  it('cryptoggle switches both ways, warning that the plain side is a separate, empty tree', async () => {
    const off = await runPoof(['cryptoggle'], { env: ctx.sb.env });
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /encryption off: poof\.conf now uses \[poof-backup\]/);
    assert.match(off.stderr, /\[poof-backup\] holds no copy yet while \[poof-crypt\] holds 6 files: .*separate trees.*nothing is moved or deleted/);
    assert.equal((JSON.parse(await readFile(path.join(ctx.sb.confdir, 'poof.conf'), 'utf8')) as { remote: string }).remote, 'poof-backup');
    const on = await runPoof(['cryptoggle'], { env: ctx.sb.env });
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /encryption on: poof\.conf now uses \[poof-crypt\] \(crypt over poof-backup\)/);
  });

  it('key export, then key import on a fresh config directory, restores the files', async () => {
    const kit = path.join(ctx.sb.dir, 'kit.txt');
    const exported = await runPoof(['key', 'export', kit], { env: ctx.sb.env });
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /warning: this file holds the keys/);
    assert.equal((await stat(kit)).mode & 0o777, 0o600);
    const kitText = await readFile(kit, 'utf8');
    assert.match(kitText, /\[poof-crypt\]\ntype = crypt\nremote = poof-backup:bkt\n/);
    // The generated keys never went through argv, in the clear or obscured.
    const conf = await readFile(path.join(ctx.sb.confdir, 'rclone-poof.conf'), 'utf8');
    const secrets = [...kitText.matchAll(/^password2? = (.+)$/gm), ...conf.matchAll(/^password2? = (.+)$/gm)].map((m) => m[1]!);
    assert.equal(secrets.length, 4);
    const argv = await readFile(argvLog, 'utf8');
    for (const secret of secrets) assert.equal(argv.includes(secret), false, 'a key appeared in rclone\'s argv');
    assert.equal(exported.stdout.includes(secrets[0]!) || exported.stderr.includes(secrets[0]!), false, 'a key appeared in the output');
    assert.equal((await runPoof(['key', 'export', kit], { env: ctx.sb.env })).code, 2, 'never overwrites a kit without --force');

    const fresh = { ...ctx.sb.env, POOF_CONFIG_DIR: path.join(ctx.sb.dir, 'new-machine') };
    assert.equal((await runPoof(['config', '--map', `${ctx.src}=My Files`, '--bucket', 'bkt'], { env: fresh })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', cloud], { env: fresh })).code, 0);
    const imported = await runPoof(['key', 'import', kit], { env: fresh });
    assert.equal(imported.code, 0, imported.stderr);
    const into = path.join(ctx.sb.dir, 'restored-elsewhere');
    const restored = await runPoof(['download', '--to', into], { env: fresh });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'My Files')), ctx.original);
  });

  it('a wrong password is refused: verify fails, download changes no local file', async () => {
    const wrong = { ...ctx.sb.env, POOF_CONFIG_DIR: path.join(ctx.sb.dir, 'wrong-key') };
    assert.equal((await runPoof(['config', '--map', `${ctx.src}=My Files`, '--bucket', 'bkt'], { env: wrong })).code, 0);
    const made = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--crypt', '--passphrase-stdin'], { env: wrong, input: 'not the right passphrase\n' });
    assert.equal(made.code, 0, made.stderr);
    await writeFile(path.join(ctx.src, 'local only.txt'), 'must survive\n');
    const before = await readTree(ctx.src);
    const download = await runPoof(['download', '--yes'], { env: wrong });
    assert.equal(download.code, 1);
    assert.match(download.stderr, /cannot decrypt: wrong password or not a poof crypt remote .*nothing was changed/);
    assert.deepEqual(await readTree(ctx.src), before);
    const verify = await runPoof(['verify'], { env: wrong });
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, /FAIL {2}encryption keys: cannot decrypt: wrong password/);
    const upload = await runPoof(['upload', '--yes'], { env: wrong });
    assert.equal(upload.code, 1);
    assert.deepEqual(await readTree(ctx.src), before);
  });

  it('--ask-passphrase without a terminal is refused (exit 2); verify warns about names too long to encrypt', async () => {
    const asked = await runPoof(['cconfig', '--crypt', '--ask-passphrase', '--force'], { env: ctx.sb.env });
    assert.equal(asked.code, 2);
    assert.match(asked.stderr, /--ask-passphrase needs a terminal/);
    const long = path.join(ctx.src, `${'n'.repeat(150)}.txt`);
    await writeFile(long, 'long name\n');
    const verify = await runPoof(['verify', '--offline'], { env: ctx.sb.env });
    assert.match(verify.stdout, /warn {2}encryption: 1 names are longer than 143 characters and may be too long once encrypted/);
    await rm(long);
  });

  it('upload over crypt proves with cryptcheck', async () => {
    const upload = await runPoof(['upload', '--yes', '--only', 'My Files'], { env: ctx.sb.env });
    assert.equal(upload.code, 0, upload.stderr);
    assert.match(upload.stdout, /proven 7 by cryptcheck; moved to the trash 7/);
  });
});

describe('crypt over S3 (s3rver)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let s3: RunningServer;
  let data: string;
  before(async () => {
    ctx = await setup();
    data = path.join(ctx.sb.dir, 's3data');
    s3 = await startS3(data);
  });
  after(async () => {
    await s3.stop();
    await ctx.sb.cleanup();
  });

  it('stores nothing in the clear and restores byte for byte', async () => {
    const env = { ...ctx.sb.env, POOF_SECRET: 'S3RVER' };
    const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER', '--crypt'], { env });
    assert.equal(made.code, 0, made.stderr);
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const stored = await storedNamesAndBytes(data);
    // s3rver keeps each object in a directory named after its key, with metadata files beside it.
    assert.ok(stored.names.length > 0);
    assertNothingInTheClear(stored, ctx.original);
    const into = path.join(ctx.sb.dir, 'restored');
    const restored = await runPoof(['download', '--to', into], { env: ctx.sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'My Files')), ctx.original);
  });
});
