import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { writeHookedRclone } from '../helpers/rclone-shim.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startRcloneSftp, type RunningServer } from '../helpers/servers.js';

const exists = (file: string) => stat(file).then(() => true, () => false);
const bucketOf = async (sb: Sandbox) => (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;

/**
 * Write to the remote as someone else with access would: through the server (rclone serve sftp
 * caches its listings, so files put beside it on disk stay unseen for minutes).
 */
async function writeRemote(sb: Sandbox, name: string, content: string): Promise<void> {
  const target = `poof-backup:${await bucketOf(sb)}/${name}`;
  execFileSync('rclone', ['rcat', target, '--config', path.join(sb.confdir, 'rclone-poof.conf')], { input: content, env: { PATH: process.env.PATH ?? '' } });
}

/**
 * A remote copy someone else could write to (a shared bucket, a compromised server) must not be
 * able to reach outside the restored directory or plant a setuid program, whatever the rclone
 * version (rclone itself stops some of this only from 1.74.4 and 1.75.0).
 */
describe('a restore from an altered remote copy', () => {
  let sb: Sandbox;
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await sb.cleanup();
  });

  /** Links mode over SFTP, where a ".rclonelink" is an ordinary file on the server. */
  async function linksOverSftp(): Promise<{ docs: string; remoteDocs: string; outside: string }> {
    sb = await makeSandbox();
    const { dirs } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n' } });
    const root = path.join(sb.dir, 'sftp-root');
    server = await startRcloneSftp(root);
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(server.port), '--user', 'u', '--force'], { env: { ...sb.env, POOF_SECRET: 'p' } });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
    const outside = path.join(sb.dir, 'outside');
    await mkdir(outside);
    return { docs: dirs.Docs!, remoteDocs: path.join(root, await bucketOf(sb), 'Docs'), outside };
  }

  it('a link beside files inside a directory of its name is refused before anything is written', async () => {
    const { outside } = await linksOverSftp();
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeRemote(sb, 'Docs/evil.rclonelink', outside);
    await writeRemote(sb, 'Docs/evil/payload.txt', 'planted\n');
    const into = path.join(sb.dir, 'restored');
    const result = await runPoof(['download', '--to', into, '--yes'], { env: sb.env });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /Docs: REFUSED: the remote copy holds both a link "evil" and files inside a directory of that name.*nothing was restored/);
    assert.deepEqual(await readdir(outside), []);
    assert.equal(await exists(path.join(into, 'Docs', 'evil')), false);
  });

  it('a file that appears under a local link after the plan is not written through the link', async () => {
    const { docs, remoteDocs, outside } = await linksOverSftp();
    await symlink(outside, path.join(docs, 'lnk'));
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    assert.equal(await readFile(path.join(remoteDocs, 'lnk.rclonelink'), 'utf8'), outside);
    // The plan sees nothing to do; the remote gains lnk/payload.txt just before rclone copies.
    const target = `poof-backup:${await bucketOf(sb)}/Docs/lnk/payload.txt`;
    const hooked = await writeHookedRclone(sb.dir, 'copy', `echo planted | rclone rcat '${target}' --config '${path.join(sb.confdir, 'rclone-poof.conf')}'`);
    const result = await runPoof(['download'], { env: { ...sb.env, POOF_RCLONE: hooked } });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /Docs: FAILED: not restored, since a link in the path would have them written wherever it points \(links mode\): lnk\/payload\.txt;/);
    assert.deepEqual(await readdir(outside), []);
    assert.equal(await readFile(path.join(docs, 'a.txt'), 'utf8'), 'a\n');
  });

  it('setuid, setgid and sticky bits on the remote are never restored', async () => {
    sb = await makeSandbox();
    const { dirs, cloud } = await mapLocalDirs(sb, { Tools: { 'tool.sh': '#!/bin/sh\necho hi\n', 'data.txt': 'd\n' } });
    await chmod(path.join(dirs.Tools!, 'tool.sh'), 0o755);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const remoteTools = path.join(cloud, await bucketOf(sb), 'Tools');
    await chmod(path.join(remoteTools, 'tool.sh'), 0o6755);
    await chmod(path.join(remoteTools, 'data.txt'), 0o1640);
    const into = path.join(sb.dir, 'restored');
    const result = await runPoof(['download', '--to', into], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(((await stat(path.join(into, 'Tools', 'tool.sh'))).mode & 0o7777).toString(8), '755');
    assert.equal(((await stat(path.join(into, 'Tools', 'data.txt'))).mode & 0o7777).toString(8), '640');
  });
});
