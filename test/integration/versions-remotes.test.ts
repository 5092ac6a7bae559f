import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cconfigOpenSsh, makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startRcloneSftp, startRcloneWebdav, startS3, type RunningServer, type SshServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';
import { propertyCheck, runIds } from '../helpers/versions.js';

/** A sandbox with one mapping "Work" backed up to an s3rver of its own; with `links`, links kept as links. */
async function onS3(links = false): Promise<{ sb: Sandbox; s3: RunningServer; dir: string }> {
  const sb = await makeSandbox();
  const dir = (await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n' } })).dirs.Work!;
  if (links) assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
  const s3 = await startS3(path.join(sb.dir, 's3data'));
  const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER', '--force'], { env: { ...sb.env, POOF_SECRET: 'S3RVER' } });
  assert.equal(made.code, 0, made.stderr);
  return { sb, s3, dir };
}

describe('versioned backups on S3 (s3rver)', () => {
  let sb: Sandbox;
  let s3: RunningServer;
  let dir: string;
  before(async () => void ({ sb, s3, dir } = await onS3()));
  after(async () => {
    await s3.stop();
    await sb.cleanup();
  });

  it('20 seeded runs: each comes back byte for byte, with its times; counts stay exact though S3 moves by copy and delete', async () => {
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 7));
    const [changed, gone] = [...(await readTree(dir)).keys()].sort();
    assert.ok(changed && gone, 'two files to change and delete');
    await writeFile(path.join(dir, changed), 'changed once more\n');
    await writeFile(path.join(dir, 'fresh-one.txt'), 'fresh\n');
    await rm(path.join(dir, gone));
    const result = await runPoof(['backup', '--json'], { env: sb.env });
    const mapping = (JSON.parse(result.stdout) as { mappings: Array<{ copied: number; deleted: number; kept: { files: number } }> }).mappings[0]!;
    assert.deepEqual([mapping.copied, mapping.deleted, mapping.kept.files], [2, 1, 2]);
  });

  it('rclone.maxDelete means files leaving the mirror, though S3 moves each replaced file by copy and delete', async () => {
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, rclone: { maxDelete: 1 } }));
    const present = [...(await readTree(dir)).keys()].sort();
    assert.ok(present.length >= 3, present.join(', '));
    for (const rel of present.slice(0, 3)) await writeFile(path.join(dir, rel), `replaced ${rel}\n`);
    const replaced = await runPoof(['backup'], { env: sb.env });
    assert.equal(replaced.code, 0, `three replaced files delete nothing: ${replaced.stderr}`);
    const before = await runIds(sb, 'Work');
    for (const rel of present.slice(0, 2)) await rm(path.join(dir, rel));
    const refused = await runPoof(['backup'], { env: sb.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr + refused.stdout, /Work: REFUSED: the backup would delete 2 files on the remote, more than poof\.conf's rclone\.maxDelete \(1\) allows; nothing was changed/);
    assert.deepEqual(await runIds(sb, 'Work'), before, 'no run was recorded: nothing moved');
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify(conf));
  });
});

describe('versioned backups on S3 (s3rver) with links kept as links, stored as NAME.rclonelink objects', () => {
  let sb: Sandbox;
  let s3: RunningServer;
  let dir: string;
  before(async () => void ({ sb, s3, dir } = await onS3(true)));
  after(async () => {
    await s3.stop();
    await sb.cleanup();
  });

  it('10 seeded runs making, pointing elsewhere and replacing links among the changes: each run comes back with its links and their times', async () => {
    await propertyCheck(sb, dir, 'Work', 10, Number(process.env.POOF_TEST_SEED ?? 5), true, undefined, true);
  });
});

describe('versioned backups through crypt', () => {
  let sb: Sandbox;
  let dir: string;
  before(async () => {
    sb = await makeSandbox();
    dir = (await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n' } })).dirs.Work!;
    const made = await runPoof(['cconfig', '--crypt'], { env: sb.env });
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => sb.cleanup());

  it('20 seeded runs over a crypt remote: history is encrypted too, and each run comes back byte for byte', async () => {
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 11));
  });
});

for (const storage of ['SFTP (rclone serve sftp)', 'WebDAV (rclone serve webdav)'] as const) {
  describe(`versioned backups over ${storage}`, () => {
    let sb: Sandbox;
    let server: RunningServer;
    let dir: string;
    before(async () => {
      sb = await makeSandbox();
      dir = (await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n' } })).dirs.Work!;
      const root = path.join(sb.dir, 'server-root');
      const sftp = storage.startsWith('SFTP');
      server = sftp ? await startRcloneSftp(root) : await startRcloneWebdav(root);
      const args = sftp
        ? ['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(server.port), '--user', 'u', '--force']
        : ['cconfig', '--provider', 'webdav', '--url', `http://127.0.0.1:${server.port}`, '--user', 'u', '--force'];
      const made = await runPoof(args, { env: { ...sb.env, POOF_SECRET: 'p' } });
      assert.equal(made.code, 0, made.stderr);
    });
    after(async () => {
      await server.stop();
      await sb.cleanup();
    });

    it('5 seeded runs (files made folders of the same name, and folders files, among the changes): each comes back byte for byte', async () => {
      await propertyCheck(sb, dir, 'Work', 5, Number(process.env.POOF_TEST_SEED ?? 43), storage.startsWith('SFTP'));
    });

    it('a folder made a file with no record of what was sent (a new machine, a wiped state folder): the folder\'s files are kept in the history', async () => {
      await mkdir(path.join(dir, 'album'), { recursive: true });
      for (const n of [1, 2, 3]) await writeFile(path.join(dir, 'album', `p${n}.jpg`), `photo ${n}\n`);
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      const before = (await runIds(sb, 'Work')).at(-1)!;
      const state = path.join(sb.home, '.local', 'state', 'poof', 'configs');
      for (const config of await readdir(state)) await rm(path.join(state, config, 'sent'), { recursive: true, force: true });
      await rm(path.join(dir, 'album'), { recursive: true });
      await writeFile(path.join(dir, 'album'), 'now a file\n');
      const flipped = await runPoof(['backup'], { env: sb.env });
      assert.equal(flipped.code, 0, flipped.stderr);
      const into = path.join(sb.dir, 'before-album-flip');
      const restored = await runPoof(['restore', '--at', before, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      for (const n of [1, 2, 3]) assert.equal(await readFile(path.join(into, 'Work', 'album', `p${n}.jpg`), 'utf8'), `photo ${n}\n`);
      await rm(into, { recursive: true, force: true });
    });

    it('a file whose time alone changed: the run records the time, and the newest run comes back', async () => {
      const rel = [...(await readTree(dir)).keys()].sort()[0]!;
      const when = new Date('2024-02-03T04:05:06Z');
      await utimes(path.join(dir, rel), when, when);
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      const newest = (await runIds(sb, 'Work')).at(-1)!;
      const into = path.join(sb.dir, 'touched');
      const restored = await runPoof(['restore', '--at', newest, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr + restored.stdout);
      assert.deepEqual(await readTree(path.join(into, 'Work')), await readTree(dir));
      if (storage.startsWith('SFTP')) assert.equal(Math.floor((await stat(path.join(into, 'Work', rel))).mtimeMs / 1000), when.getTime() / 1000);
    });
  });
}

describe('versioned backups over OpenSSH, where a file cannot be written over a folder', () => {
  let sb: Sandbox;
  let sshd: SshServer;
  let dir: string;
  before(async () => {
    sb = await makeSandbox();
    dir = (await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n' } })).dirs.Work!;
    sshd = await cconfigOpenSsh(sb);
  });
  after(async () => {
    await sshd.stop();
    await sb.cleanup();
  });

  it('5 seeded runs (files made folders of the same name, and folders files, among the changes): each comes back byte for byte', async () => {
    await propertyCheck(sb, dir, 'Work', 5, Number(process.env.POOF_TEST_SEED ?? 43));
  });

  it('a folder made a file: the folder\'s files are kept in the run\'s history, and the run before brings them back', async () => {
    await mkdir(path.join(dir, 'project', 'src'), { recursive: true });
    await writeFile(path.join(dir, 'project', 'src', 'main.c'), 'int main;\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const before = (await runIds(sb, 'Work')).at(-1)!;
    await rm(path.join(dir, 'project'), { recursive: true });
    await writeFile(path.join(dir, 'project'), 'now a file\n');
    const flipped = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(flipped.code, 0, flipped.stderr);
    assert.equal(await readFile(path.join(sshd.root, (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket, 'Work', 'project'), 'utf8'), 'now a file\n');
    const versions = await runPoof(['versions', path.join(dir, 'project', 'src', 'main.c')], { env: sb.env });
    assert.equal(versions.code, 0, versions.stderr);
    assert.match(versions.stdout, new RegExp(`as of run ${before}`));
    const into = path.join(sb.dir, 'before-flip');
    assert.equal((await runPoof(['restore', '--at', before, '--to', into, '--yes'], { env: sb.env })).code, 0);
    assert.equal(await readFile(path.join(into, 'Work', 'project', 'src', 'main.c'), 'utf8'), 'int main;\n');
  });
});
