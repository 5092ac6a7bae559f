import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { link, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeHookedRclone } from '../helpers/rclone-shim.js';
import { cliPath, makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startRcloneSftp, startRcloneWebdav, startS3, startSshd, type RunningServer } from '../helpers/servers.js';
import { readTrash, readTree, writeSampleTree } from '../helpers/tree.js';

const exists = (file: string) => stat(file).then(() => true, () => false);

/** A sandbox with one mapping "Arch" holding the sample tree, plus poof.conf settings. */
async function setup(extra: Record<string, unknown> = {}): Promise<{ sb: Sandbox; src: string; original: Map<string, Buffer> }> {
  const sb = await makeSandbox();
  const src = path.join(sb.home, 'Archive');
  await writeSampleTree(src);
  const original = await readTree(src);
  assert.equal((await runPoof(['config', '--map', `${src}=Arch`, '--bucket', 'bkt'], { env: sb.env })).code, 0);
  if (Object.keys(extra).length > 0) {
    const file = path.join(sb.confdir, 'poof.conf');
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), ...extra }));
  }
  return { sb, src, original };
}

/**
 * The invariant upload must keep whatever happens: every original file is still local, or is
 * byte-identical in the remote copy.
 */
async function assertNothingLost(original: Map<string, Buffer>, src: string, remoteCopy: string): Promise<{ local: number; wiped: number }> {
  const local = await readTree(src);
  const remote = await readTree(remoteCopy).catch(() => new Map<string, Buffer>());
  let wiped = 0;
  for (const [rel, content] of original) {
    if (local.has(rel)) continue;
    wiped++;
    assert.ok(remote.get(rel)?.equals(content), `${rel} was wiped locally but is not identical on the remote`);
  }
  return { local: local.size, wiped };
}

describe('poof upload to a local-directory remote', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let remoteCopy: string;
  before(async () => {
    ctx = await setup({ excludes: ['*.tmp'] });
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(ctx.sb.dir, 'cloud')], { env: ctx.sb.env })).code, 0);
    remoteCopy = path.join(ctx.sb.dir, 'cloud', 'bkt', 'Arch');
  });
  after(() => ctx.sb.cleanup());

  it('--dry-run and a run without --yes (no terminal) change nothing', async () => {
    const dry = await runPoof(['upload', '--dry-run'], { env: ctx.sb.env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Arch: 0 files already identical on the remote/);
    const refused = await runPoof(['upload'], { env: ctx.sb.env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /upload would copy, prove and then wipe up to 5 local files .*pass --yes/);
    assert.deepEqual(await readTree(ctx.src), ctx.original);
    assert.equal(await exists(remoteCopy), false);
  });

  it('wipes exactly the proven files into the trash; excluded files stay; the directory stays', async () => {
    await writeFile(path.join(ctx.src, 'scratch.tmp'), 'excluded\n');
    const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Arch: proven 5 by hash; moved to the trash 5; kept 1; removed 7 emptied directories/);
    assert.match(result.stdout, /kept scratch\.tmp: not proven on the remote/);
    assert.deepEqual([...(await readTree(ctx.src)).keys()], ['scratch.tmp']);
    assert.deepEqual(await readTree(remoteCopy), ctx.original);
    const trash = await readTrash(ctx.sb.home);
    assert.equal(trash.size, 5);
    assert.deepEqual(await readFile(trash.get(path.join(ctx.src, 'bin', 'blob.bin'))!), ctx.original.get('bin/blob.bin'));
    const status = JSON.parse((await runPoof(['status', '--json', '--last', '1'], { env: ctx.sb.env })).stdout) as { runs: Array<{ mappings: Array<{ proven: number; wiped: number }> }> };
    assert.deepEqual(status.runs[0]?.mappings.map((m) => [m.proven, m.wiped]), [[5, 5]]);
  });

  it('after an upload, backup and upload only copy: files wiped locally stay on the remote', async () => {
    await writeFile(path.join(ctx.src, 'later.txt'), 'added after the upload\n');
    const backup = await runPoof(['backup'], { env: ctx.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /uploaded before .* copied without deleting anything on the remote/);
    const remote = await readTree(remoteCopy);
    for (const [rel, content] of ctx.original) assert.ok(remote.get(rel)?.equals(content), rel);
    assert.equal(remote.get('later.txt')?.toString(), 'added after the upload\n');
    const again = await runPoof(['upload', '--yes', '--wipe', 'delete'], { env: ctx.sb.env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /proven 1 by hash; deleted 1; kept 1/);
    assert.equal(await exists(path.join(ctx.src, 'later.txt')), false);
    assert.equal((await readTrash(ctx.sb.home)).size, 5, 'delete mode does not use the trash');
    assert.ok((await stat(ctx.src)).isDirectory());
  });

  it('shred overwrites a file before deleting it', async () => {
    const file = path.join(ctx.src, 'secret.txt');
    const content = 'top secret '.repeat(1000);
    await writeFile(file, content);
    // A second name for the same data shows what shred did to the blocks behind the file.
    const witness = path.join(ctx.sb.dir, 'witness');
    await link(file, witness);
    const result = await runPoof(['upload', '--yes', '--wipe', 'shred'], { env: ctx.sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /best effort: SSDs and copy-on-write/);
    assert.equal(await exists(file), false);
    const after = await readFile(witness);
    assert.equal(after.length, content.length);
    assert.notEqual(after.toString(), content);
    assert.equal(await readFile(path.join(remoteCopy, 'secret.txt'), 'utf8'), content);
  });

  it('a file changed while it is being proven stays, and is reported', async () => {
    const file = path.join(ctx.src, 'busy.txt');
    await writeFile(file, 'version 1\n');
    await writeFile(path.join(ctx.src, 'quiet.txt'), 'never changes\n');
    const hooked = await writeHookedRclone(ctx.sb.dir, 'check', `printf 'version 2\\n' >> '${file}'`);
    const result = await runPoof(['upload', '--yes'], { env: { ...ctx.sb.env, POOF_RCLONE: hooked } });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /kept busy\.txt: (changed after the proof began|differs from the remote copy)/);
    assert.equal(await readFile(file, 'utf8'), 'version 1\nversion 2\n');
    assert.equal(await exists(path.join(ctx.src, 'quiet.txt')), false);
  });

  it('refuses the home directory itself and poof\'s config directory, wiping nothing', async () => {
    const confFile = path.join(ctx.sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(ctx.sb.home, 'keep-me.txt'), 'home file\n');
    await writeFile(confFile, JSON.stringify({ ...conf, paths: { [ctx.sb.home]: 'Home', [ctx.sb.confdir]: 'Conf' } }));
    const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Home: REFUSED: .* is your home directory itself.*; upload never wipes it/);
    assert.match(result.stderr, /Conf: REFUSED: .* is poof's config directory; upload never wipes it/);
    assert.equal(await readFile(path.join(ctx.sb.home, 'keep-me.txt'), 'utf8'), 'home file\n');
    assert.ok(await exists(confFile));
    await writeFile(confFile, JSON.stringify(conf));
  });

  it('refuses a mapped directory that does not exist', async () => {
    const confFile = path.join(ctx.sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, paths: { [path.join(ctx.sb.home, 'gone')]: 'Gone' } }));
    const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Gone: REFUSED: the local directory does not exist/);
    await writeFile(confFile, JSON.stringify(conf));
  });
});

describe('poof upload over SFTP (rclone serve sftp): failures wipe nothing unproven', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  let server: RunningServer;
  let root: string;
  before(async () => {
    ctx = await setup();
    root = path.join(ctx.sb.dir, 'sftp-root');
    server = await startRcloneSftp(root);
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(server.port), '--user', 'u'], { env: { ...ctx.sb.env, POOF_SECRET: 'p' } });
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => {
    await server.stop();
    await ctx.sb.cleanup();
  });

  it('a server stopped before the run: exit 1, nothing wiped', async () => {
    await server.stop();
    const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env, timeoutMs: 90_000 });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nothing was wiped/);
    assert.deepEqual(await readTree(ctx.src), ctx.original);
  });

  it('the server killed just before the proof: exit 1, nothing wiped', async () => {
    server = await startRcloneSftp(root, server.port);
    const hooked = await writeHookedRclone(ctx.sb.dir, 'check', `kill ${'$'}(cat '${ctx.sb.dir}/server.pid')`);
    await writeFile(path.join(ctx.sb.dir, 'server.pid'), String(server.pid));
    const result = await runPoof(['upload', '--yes'], { env: { ...ctx.sb.env, POOF_RCLONE: hooked }, timeoutMs: 90_000 });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the proof \(hash\) stopped: the remote stopped answering \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\); nothing was wiped/);
    assert.deepEqual(await readTree(ctx.src), ctx.original);
  });

  it('the server killed at several points of a run: every file is still local or identical on the remote', async () => {
    // 120 files at 200 KiB/s keep the copy busy for several seconds.
    for (let i = 0; i < 120; i++) {
      const dir = path.join(ctx.src, 'many', `d${i % 6}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `f${i}.bin`), Buffer.alloc(8_000 + i * 50, i));
    }
    const original = await readTree(ctx.src);
    const confFile = path.join(ctx.sb.confdir, 'poof.conf');
    await writeFile(confFile, JSON.stringify({ ...JSON.parse(await readFile(confFile, 'utf8')), rclone: { bwlimit: '200k', stallSeconds: 5 } }));
    const remoteCopy = path.join(root, 'bkt', 'Arch');
    await server.stop(); // each round starts its own
    for (const delayMs of [1000, 3500]) {
      server = await startRcloneSftp(root, server.port);
      const child = spawn(process.execPath, [cliPath, 'upload', '--yes'], { env: ctx.sb.env, stdio: 'ignore' });
      const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise((r) => setTimeout(r, delayMs));
      await server.stop();
      const code = await Promise.race([exit, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        const log = await readFile(path.join(ctx.sb.home, '.local', 'state', 'poof', 'poof.log'), 'utf8').catch(() => '');
        assert.fail(`poof did not finish within 60 s after the server was killed at ${delayMs} ms; poof.log ends:\n${log.split('\n').slice(-40).join('\n')}`);
      }
      await assertNothingLost(original, ctx.src, remoteCopy);
      assert.equal(code, 1, `the server went away during the run, so the run failed: exit ${String(code)}`);
    }
    // A final run with the server up finishes the job.
    server = await startRcloneSftp(root, server.port);
    const last = await runPoof(['upload', '--yes'], { env: ctx.sb.env, timeoutMs: 120_000 });
    assert.equal(last.code, 0, last.stderr);
    await assertNothingLost(original, ctx.src, remoteCopy);
    assert.equal((await readTree(ctx.src)).size, 0);
  });
});

describe('poof upload to S3 (s3rver) and to OpenSSH without hashes', () => {
  it('S3: proves by md5 and wipes', async () => {
    const ctx = await setup();
    const s3 = await startS3(path.join(ctx.sb.dir, 's3data'));
    try {
      const env = { ...ctx.sb.env, POOF_SECRET: 'S3RVER' };
      assert.equal((await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER'], { env })).code, 0);
      const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /proven 5 by hash; moved to the trash 5; kept 0/);
      assert.equal((await readTree(ctx.src)).size, 0);
      const into = path.join(ctx.sb.dir, 'back');
      assert.equal((await runPoof(['download', '--to', into], { env: ctx.sb.env })).code, 0);
      assert.deepEqual(await readTree(path.join(into, 'Arch')), ctx.original);
    } finally {
      await s3.stop();
      await ctx.sb.cleanup();
    }
  });

  it('OpenSSH with shell_type none has no hashes: proves by downloading', async () => {
    const ctx = await setup();
    const sshd = await startSshd(path.join(ctx.sb.dir, 'sshd-root'));
    try {
      const made = await runPoof(
        ['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', sshd.user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none'],
        { env: ctx.sb.env },
      );
      assert.equal(made.code, 0, made.stderr);
      const result = await runPoof(['upload', '--yes'], { env: ctx.sb.env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /proven 5 by downloading and comparing bytes; moved to the trash 5/);
      assert.deepEqual(await readTree(path.join(sshd.root, 'bkt', 'Arch')), ctx.original, 'the copy is in the sandbox');
    } finally {
      await sshd.stop();
      await ctx.sb.cleanup();
    }
  });
});

describe('poof upload where the remote holds another kind under a name (the remote copy is the only one)', () => {
  it('links kept as links on a local-directory remote: a file uploaded where a link was is a name of its own there, never written through the link', async () => {
    const sb = await makeSandbox();
    try {
      const src = path.join(sb.home, 'Archive');
      await mkdir(src, { recursive: true });
      await writeFile(path.join(src, 'a.txt'), 'a\n');
      const precious = path.join(sb.dir, 'precious.txt');
      await writeFile(precious, 'outside the mapping\n');
      await symlink(precious, path.join(src, 'x'));
      assert.equal((await runPoof(['config', '--map', `${src}=Arch`, '--bucket', 'bkt', '--symlinks', 'links'], { env: sb.env })).code, 0);
      assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
      const first = await runPoof(['upload', '--yes'], { env: sb.env });
      assert.equal(first.code, 0, first.stderr);
      const stored = path.join(sb.dir, 'cloud', 'bkt', 'Arch');
      assert.equal(await readFile(path.join(stored, 'x.rclonelink'), 'utf8'), precious, 'the link, as a file naming where it points');
      await writeFile(path.join(src, 'x'), 'a file now\n');
      const second = await runPoof(['upload', '--yes'], { env: sb.env });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(await readFile(precious, 'utf8'), 'outside the mapping\n', 'nothing written through the link');
      assert.equal(await readFile(path.join(stored, 'x'), 'utf8'), 'a file now\n');
      assert.equal(await readFile(path.join(stored, 'x.rclonelink'), 'utf8'), precious, 'the uploaded link is still there');
    } finally {
      await sb.cleanup();
    }
  });

  it('WebDAV (rclone serve webdav): a file where a folder was uploaded is refused; the folder\'s files stay on the server', async () => {
    const sb = await makeSandbox();
    const dav = await startRcloneWebdav(path.join(sb.dir, 'dav'));
    try {
      const src = path.join(sb.home, 'Archive');
      await mkdir(path.join(src, 'x'), { recursive: true });
      await writeFile(path.join(src, 'x', 'only-copy.txt'), 'uploaded, then wiped here\n');
      assert.equal((await runPoof(['config', '--map', `${src}=Arch`, '--bucket', 'bkt'], { env: sb.env })).code, 0);
      assert.equal((await runPoof(['cconfig', '--provider', 'webdav', '--url', `http://127.0.0.1:${dav.port}`, '--user', 'u'], { env: { ...sb.env, POOF_SECRET: 'p' } })).code, 0);
      const first = await runPoof(['upload', '--yes'], { env: sb.env });
      assert.equal(first.code, 0, first.stderr);
      const onServer = path.join(sb.dir, 'dav', 'bkt', 'Arch', 'x', 'only-copy.txt');
      assert.equal(await readFile(onServer, 'utf8'), 'uploaded, then wiped here\n');
      await rm(path.join(src, 'x'), { recursive: true, force: true });
      await writeFile(path.join(src, 'x'), 'a file of the same name\n');
      const second = await runPoof(['upload', '--yes'], { env: sb.env });
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, /Arch: FAILED: x on the remote is a folder where this is a file, and an upload keeps what the remote holds: move one of them aside by hand/);
      assert.equal(await readFile(onServer, 'utf8'), 'uploaded, then wiped here\n', 'the only copy is still on the server');
      assert.equal(await readFile(path.join(src, 'x'), 'utf8'), 'a file of the same name\n', 'not wiped');
    } finally {
      await dav.stop();
      await sb.cleanup();
    }
  });
});
