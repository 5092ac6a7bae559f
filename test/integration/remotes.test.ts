import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { freePort, startRcloneSftp, startRcloneWebdav, startS3, startSshd, type RunningServer, type SshServer } from '../helpers/servers.js';
import { readTree, readTreeMeta, setSampleMeta, writeSampleTree } from '../helpers/tree.js';

/** A configured sandbox: one mapping with the sample tree, poof.conf written. */
async function setup(): Promise<{ sb: Sandbox; src: string; bucket: string }> {
  const sb = await makeSandbox();
  const src = path.join(sb.home, 'My Files');
  await writeSampleTree(src);
  await setSampleMeta(src);
  const bucket = 'poof-test-bucket';
  const result = await runPoof(['config', '--map', `${src}=My Files`, '--bucket', bucket], { env: sb.env });
  assert.equal(result.code, 0, result.stderr);
  return { sb, src, bucket };
}

/**
 * After a first backup: a second backup transfers nothing, and a download into a new directory
 * brings the tree back byte for byte with its modification times (and modes where the storage
 * keeps them).
 */
async function assertNoChangeThenRestore(sb: Sandbox, src: string, keepsModes: boolean): Promise<void> {
  // Change one file, delete one, add one: the next backup mirrors exactly that.
  await writeFile(path.join(src, 'plain.txt'), 'changed after the first backup\n');
  await rm(path.join(src, 'with space.txt'));
  await writeFile(path.join(src, 'a', 'added later.txt'), 'added\n');
  const changed = await runPoof(['backup', '--json'], { env: sb.env });
  assert.equal(changed.code, 0, changed.stderr);
  const counts = JSON.parse(changed.stdout) as { mappings: Array<{ copied: number; deleted: number }> };
  assert.deepEqual(counts.mappings.map((m) => [m.copied, m.deleted]), [[2, 1]], 'two copied, one deleted');
  const again = await runPoof(['backup', '--json'], { env: sb.env });
  assert.equal(again.code, 0, again.stderr);
  const result = JSON.parse(again.stdout) as { mappings: Array<{ copied: number; deleted: number }> };
  assert.deepEqual(result.mappings.map((m) => [m.copied, m.deleted]), [[0, 0]], 'a no-change run transfers nothing');
  const into = path.join(sb.dir, `restored-${Date.now()}`);
  const restored = await runPoof(['download', '--to', into], { env: sb.env });
  assert.equal(restored.code, 0, restored.stderr);
  const copy = path.join(into, 'My Files');
  assert.deepEqual(await readTree(copy), await readTree(src));
  const want = await readTreeMeta(src);
  const got = await readTreeMeta(copy);
  for (const [rel, meta] of want) {
    assert.equal(got.get(rel)?.mtime, meta.mtime, `${rel}: modification time`);
    if (keepsModes) assert.equal(got.get(rel)?.mode.toString(8), meta.mode.toString(8), `${rel}: mode`);
  }
}

/** Run rclone with poof's config to look at the remote from outside poof. */
function rcloneWith(sb: Sandbox, args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const env = { ...sb.env };
    delete env.AWS_CA_BUNDLE;
    const child = spawn('rclone', ['--config', path.join(sb.confdir, 'rclone-poof.conf'), ...args], { env });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe('S3 (s3rver on 127.0.0.1)', () => {
  let s3: RunningServer;
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup();
    s3 = await startS3(path.join(ctx.sb.dir, 's3data'));
  });
  after(async () => {
    await s3.stop();
    await ctx.sb.cleanup();
  });

  it('cconfig --provider s3 with an endpoint gives a working remote (despite AWS_CA_BUNDLE)', async () => {
    const { sb } = ctx;
    const env = { ...sb.env, AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt', POOF_SECRET: 'S3RVER' };
    const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER'], { env });
    assert.equal(made.code, 0, made.stderr);
    const verify = await runPoof(['verify'], { env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /ok {2}remote: reachable; poof-backup:poof-test-bucket does not exist yet/);
    assert.match(
      verify.stdout,
      /ok {2}fidelity: s3 keeps contents, modification times, file modes and owners; not empty directories; symbolic links followed \(their targets are copied\); changes are found by size and md5 hash \(rclone --checksum\), and mode changes by poof's record of what it sent; upload proves files by hash \(md5\)\n/,
    );
    const backup = await runPoof(['backup'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    const listed = await rcloneWith(sb, ['lsf', '-R', '--files-only', 'poof-backup:poof-test-bucket']);
    // The mirror, beside the history of past runs (.poof-history/: the first run's manifest).
    const lines = listed.stdout.trim().split('\n');
    assert.deepEqual(lines.filter((l) => !l.startsWith('.poof-history/')).sort(), [...(await readTree(ctx.src)).keys()].map((k) => `My Files/${k}`).sort());
    assert.deepEqual(lines.filter((l) => l.startsWith('.poof-history/')).map((l) => l.replace(/\d{8}T\d{6}Z/, 'RUN')), ['.poof-history/RUN/My Files.run.json.gz']);
  });

  it('a no-change backup transfers nothing; download restores bytes, times and modes', async () => {
    const env = { ...ctx.sb.env, AWS_CA_BUNDLE: '/etc/ssl/certs/ca-certificates.crt' };
    await assertNoChangeThenRestore({ ...ctx.sb, env }, ctx.src, true);
  });

  it('a wrong access key fails verify with exit 4 and says why', async () => {
    const { sb } = ctx;
    const env = { ...sb.env, POOF_SECRET: 'S3RVER' };
    await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'WRONG', '--force'], { env });
    const verify = await runPoof(['verify'], { env });
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, /FAIL  remote: poof-backup:poof-test-bucket failed \(rclone exit 1\): .*InvalidAccessKeyId/);
  });
});

describe('SFTP (rclone serve sftp, password)', () => {
  let server: RunningServer;
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup();
    server = await startRcloneSftp(path.join(ctx.sb.dir, 'sftp-root'));
  });
  after(async () => {
    await server.stop();
    await ctx.sb.cleanup();
  });

  it('cconfig --provider sftp with a password from the environment works end to end', async () => {
    const env = { ...ctx.sb.env, POOF_SECRET: 'p' };
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(server.port), '--user', 'u'], { env });
    assert.equal(made.code, 0, made.stderr);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const copy = path.join(ctx.sb.dir, 'sftp-root', ctx.bucket, 'My Files');
    assert.deepEqual(await readTree(copy), await readTree(ctx.src));
  });

  it('a no-change backup transfers nothing; download restores bytes and times', async () => {
    await assertNoChangeThenRestore(ctx.sb, ctx.src, false);
  });

  it('a backup to a stopped server fails with exit 1, says why, and leaves local files alone', async () => {
    const before = await readTree(ctx.src);
    await server.stop();
    const backup = await runPoof(['backup'], { env: ctx.sb.env, timeoutMs: 90_000 });
    assert.equal(backup.code, 1);
    // rclone retries the connection silently; poof's probe finds the server gone after 10 s.
    assert.match(backup.stderr, /My Files: FAILED: the remote stopped answering \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\)/);
    assert.match(backup.stderr, /backup incomplete: 1 of 1 mappings did not finish; nothing was deleted locally/);
    assert.deepEqual(await readTree(ctx.src), before);
    const status = await runPoof(['status', '--last', '1'], { env: ctx.sb.env });
    assert.match(status.stdout, /backup {2}failed \(exit 1\)/);
  });
});

describe('SFTP (OpenSSH sshd, key and known_hosts)', () => {
  let sshd: SshServer;
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup();
    sshd = await startSshd(path.join(ctx.sb.dir, 'sshd-root'));
  });
  after(async () => {
    await sshd.stop();
    await ctx.sb.cleanup();
  });

  it('cconfig --provider sftp with --key-file, --known-hosts and --shell-type none works end to end', async () => {
    const { bucket } = ctx;
    const made = await runPoof(
      ['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', sshd.user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none'],
      { env: ctx.sb.env },
    );
    assert.equal(made.code, 0, made.stderr);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /ok {2}remote: reachable/);
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const listed = await rcloneWith(ctx.sb, ['lsf', '-R', '--files-only', `poof-backup:${bucket}/My Files`]);
    assert.deepEqual(listed.stdout.trim().split('\n').sort(), [...(await readTree(ctx.src)).keys()].sort());
    const check = await rcloneWith(ctx.sb, ['check', '--download', ctx.src, `poof-backup:${bucket}/My Files`]);
    assert.equal(check.code, 0, 'contents identical, compared by download');
    assert.deepEqual(await readTree(path.join(sshd.root, bucket, 'My Files')), await readTree(ctx.src), 'the copy is in the sandbox');
    await assert.rejects(access(path.join(os.userInfo().homedir, bucket)), 'nothing in the real home of the login user');
    await assertNoChangeThenRestore(ctx.sb, ctx.src, false);
  });

  it('an unreachable server fails verify quickly with exit 4', async () => {
    const port = await freePort();
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(port), '--key-file', sshd.clientKey, '--force'], { env: ctx.sb.env });
    assert.equal(made.code, 0, made.stderr);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, /FAIL  remote: .*connection refused/);
  });
});

describe('WebDAV (rclone serve webdav)', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let dav: RunningServer;
  let port: number;
  before(async () => {
    ctx = await setup();
    dav = await startRcloneWebdav(path.join(ctx.sb.dir, 'dav-root'));
    port = dav.port;
  });
  after(async () => {
    await dav.stop();
    await ctx.sb.cleanup();
  });

  it('cconfig --provider webdav with a password on stdin works end to end', async () => {
    const made = await runPoof(['cconfig', '--provider', 'webdav', '--url', `http://127.0.0.1:${port}`, '--user', 'u', '--secret-stdin'], { env: ctx.sb.env, input: 'p\n' });
    assert.equal(made.code, 0, made.stderr);
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.deepEqual(await readTree(path.join(ctx.sb.dir, 'dav-root', ctx.bucket, 'My Files')), await readTree(ctx.src));
  });

  it('an edit that keeps the size reaches the remote (WebDAV keeps neither times nor hashes), and upload then wipes it', async () => {
    const remoteDir = path.join(ctx.sb.dir, 'dav-root', ctx.bucket, 'My Files');
    const file = path.join(ctx.src, 'plain.txt');
    const before = await readFile(file, 'utf8');
    await writeFile(file, before.toUpperCase());
    assert.equal((await readFile(file)).length, Buffer.byteLength(before), 'the same size');
    const backup = await runPoof(['backup', '--json'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal((JSON.parse(backup.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]?.copied, 1);
    assert.equal(await readFile(path.join(remoteDir, 'plain.txt'), 'utf8'), before.toUpperCase());
    const verify = await runPoof(['verify'], { env: ctx.sb.env });
    assert.match(verify.stdout, /fidelity: webdav keeps contents, empty directories; not modification times or file modes and owners; .*changes are found by poof's record of what it sent/);

    await writeFile(file, before);
    const upload = await runPoof(['upload', '--yes', '--wipe', 'delete'], { env: ctx.sb.env });
    assert.equal(upload.code, 0, upload.stderr);
    assert.equal(await readFile(path.join(remoteDir, 'plain.txt'), 'utf8'), before, 'the edit was sent before the wipe');
    assert.equal(await readFile(file).then(() => true, () => false), false, 'proven and wiped');
  });

  it('a same-size local change is undone by a restore, and an edit is sent even when the record is gone', async () => {
    const restored = await runPoof(['download', '--yes'], { env: ctx.sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    const file = path.join(ctx.src, 'plain.txt');
    const good = await readFile(file, 'utf8');
    await writeFile(file, good.replace(/./g, 'Z'));
    const again = await runPoof(['download', '--yes'], { env: ctx.sb.env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await readFile(file, 'utf8'), good, 'the same-size local change was replaced (and is in the trash)');

    const stateDir = (JSON.parse((await runPoof(['paths', '--json'], { env: ctx.sb.env })).stdout) as { stateDir: string }).stateDir;
    await rm(path.join(stateDir, 'sent'), { recursive: true, force: true });
    await writeFile(file, good.toUpperCase());
    assert.equal((await runPoof(['backup'], { env: ctx.sb.env })).code, 0);
    assert.equal(await readFile(path.join(ctx.sb.dir, 'dav-root', ctx.bucket, 'My Files', 'plain.txt'), 'utf8'), good.toUpperCase());
  });
});
