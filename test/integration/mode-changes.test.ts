import assert from 'node:assert/strict';
import { chmod, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cconfigS3, makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import type { RunningServer } from '../helpers/servers.js';

const mode = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);
const bucket = async (sb: Sandbox) => (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;

/**
 * rclone never re-sends a file whose size, time and content are unchanged, so `chmod 600` alone
 * would never reach the backup. Where the storage keeps modes, poof's record of what it sent
 * catches it, and a restore brings back today's permissions.
 */
async function chmodReachesTheBackup(sb: Sandbox, env: Record<string, string>, dir: string, label: string): Promise<void> {
  assert.equal((await runPoof(['backup'], { env })).code, 0);
  await chmod(path.join(dir, 'secret.txt'), 0o600);
  const backup = await runPoof(['backup', '--json'], { env });
  assert.equal(backup.code, 0, backup.stderr);
  assert.equal((JSON.parse(backup.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]?.copied, 1, 'the mode-only change was sent');
  const again = await runPoof(['backup', '--json'], { env });
  assert.equal((JSON.parse(again.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]?.copied, 0, 'and only once');
  const into = path.join(sb.dir, `restored-${label}`);
  const restore = await runPoof(['download', '--to', into], { env });
  assert.equal(restore.code, 0, restore.stderr);
  assert.equal(await mode(path.join(into, 'Keys', 'secret.txt')), '600');
}

describe('a permission-only change reaches the backup', () => {
  let sb: Sandbox;
  let s3: RunningServer | undefined;
  before(async () => (sb = await makeSandbox()));
  after(async () => {
    await s3?.stop();
    await sb.cleanup();
  });

  it('on a local-directory remote', async () => {
    const { dirs } = await mapLocalDirs(sb, { Keys: { 'secret.txt': 'key material\n' } });
    await chmod(path.join(dirs.Keys!, 'secret.txt'), 0o644);
    await chmodReachesTheBackup(sb, sb.env, dirs.Keys!, 'local');
  });

  it('on a local-directory remote, a file whose content and mode both changed is sent once and counted once; history keeps both versions', async () => {
    const dir = path.join(sb.home, 'Keys');
    const file = path.join(dir, 'secret.txt');
    await writeFile(file, 'new key material, longer\n');
    await chmod(file, 0o640);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const { runId, mappings } = JSON.parse(backup.stdout) as { runId: string; mappings: Array<{ copied: number }> };
    assert.equal(mappings[0]?.copied, 1);
    const again = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal((JSON.parse(again.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]?.copied, 0, 'nothing left to send');
    const into = path.join(sb.dir, 'restored-both');
    const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(await readFile(path.join(into, 'Keys', 'secret.txt'), 'utf8'), 'new key material, longer\n');
    assert.equal(await mode(path.join(into, 'Keys', 'secret.txt')), '640');
  });

  it('names rclone would read as comments or trim in a file list ("#notes#", ";x", "trail "): a mode change reaches the backup, and a run restores them', async () => {
    const dir = path.join(sb.home, 'Keys');
    const odd = ['#notes#', ';semi', 'trail ', ' lead'];
    for (const name of odd) await writeFile(path.join(dir, name), `${name}\n`);
    for (const name of odd) await chmod(path.join(dir, name), 0o644);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    for (const name of odd) await chmod(path.join(dir, name), 0o600);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const { runId, mappings } = JSON.parse(backup.stdout) as { runId: string; mappings: Array<{ copied: number }> };
    assert.equal(mappings[0]?.copied, odd.length, 'each mode-only change was sent');
    const into = path.join(sb.dir, 'restored-odd');
    const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    for (const name of odd) {
      assert.equal(await readFile(path.join(into, 'Keys', name), 'utf8'), `${name}\n`, name);
      assert.equal(await mode(path.join(into, 'Keys', name)), '600', name);
    }
  });

  it('on S3 (s3rver), where modes are not in listings', async () => {
    let env: Record<string, string>;
    ({ env, s3 } = await cconfigS3(sb));
    const dir = path.join(sb.home, 'Keys');
    await chmod(path.join(dir, 'secret.txt'), 0o644);
    await chmodReachesTheBackup(sb, env, dir, 's3');
  });
});

describe('symbolic links kept as links', () => {
  let sb: Sandbox;
  before(async () => (sb = await makeSandbox()));
  after(() => sb.cleanup());

  it('never change the mode of a link\'s target, inside or outside the mapping', async () => {
    const outside = path.join(sb.home, 'outside');
    const { mkdir, symlink, writeFile } = await import('node:fs/promises');
    await mkdir(outside, { mode: 0o700 });
    await writeFile(path.join(outside, 't.txt'), 'private\n', { mode: 0o600 });
    const { dirs, cloud } = await mapLocalDirs(sb, { Links: { 'real.txt': 'real\n' } });
    await chmod(path.join(dirs.Links!, 'real.txt'), 0o640);
    await symlink(path.join(outside, 't.txt'), path.join(dirs.Links!, 'abs'));
    await symlink('real.txt', path.join(dirs.Links!, 'rel'));
    assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal(await mode(path.join(outside, 't.txt')), '600');
    assert.equal(await mode(outside), '700');
    assert.equal(await mode(path.join(dirs.Links!, 'real.txt')), '640');
    // Not on a local-directory remote, where each link is a file NAME.rclonelink that --metadata would make world-writable (the link's mode).
    const modesKept = false;
    const probe = path.join(sb.dir, 'new-file');
    await writeFile(probe, '');
    const fresh = await mode(probe);
    const remoteReal = path.join(cloud, await bucket(sb), 'Links', 'real.txt');
    assert.equal(await mode(remoteReal), modesKept ? '640' : fresh);
    const verify = await runPoof(['verify', '--offline'], { env: sb.env });
    assert.match(verify.stdout, /fidelity: .*not file modes and owners \(not with "symlinks": "links" on a local directory, where each link is a file that would get the link's mode: writable by anyone\); symbolic links kept as links/);
    const linkFile = path.join(cloud, await bucket(sb), 'Links', 'abs.rclonelink');
    assert.equal(await readFile(linkFile, 'utf8'), path.join(outside, 't.txt'));
    assert.equal((await stat(linkFile)).mode & 0o022, 0, 'writable by its owner only');
    const into = path.join(sb.dir, 'restored');
    const restore = await runPoof(['download', '--to', into], { env: sb.env });
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal(await mode(path.join(outside, 't.txt')), '600');
    assert.equal(await readlink(path.join(into, 'Links', 'abs')), path.join(outside, 't.txt'));
    assert.equal(await mode(path.join(into, 'Links', 'real.txt')), modesKept ? '640' : fresh);
  });
});
