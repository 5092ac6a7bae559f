import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRcloneShim } from '../helpers/rclone-shim.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startSshd, type SshServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

/**
 * The usual start: cconfig, verify, then the first backup. Over SSH each rclone call is a
 * connection of its own, and rclone writes what it learns of the server into rclone-poof.conf on
 * first contact. What verify asked (rclone's version, the storage's features) is not asked again
 * by the backup after it, and a first backup into an empty mirror does not list the run's folder
 * (nothing was replaced); the run still restores whole.
 */
describe('the first backup after verify, over OpenSSH SFTP', () => {
  let sb: Sandbox;
  let sshd: SshServer;
  before(async () => {
    sb = await makeSandbox();
    sshd = await startSshd(path.join(sb.dir, 'sshd-root'));
  });
  after(async () => {
    await sshd.stop();
    await sb.cleanup();
  });

  it('asks nothing verify asked, lists no empty folder, and the run comes back whole', async () => {
    const { dirs } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' } });
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', sshd.user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--force'], { env: sb.env });
    assert.equal(made.code, 0, made.stderr);
    const { shim, argvLog } = await writeRcloneShim(sb.dir);
    const env = { ...sb.env, POOF_RCLONE: shim };
    const verify = await runPoof(['verify'], { env });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const verified = (await readFile(argvLog, 'utf8')).split('\n').filter(Boolean);
    assert.ok(verified.some((line) => line.startsWith('version')) && verified.some((line) => line.startsWith('backend features')), 'verify asked both');
    const backup = await runPoof(['backup', '--json'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    const runId = (JSON.parse(backup.stdout) as { runId: string }).runId;
    const calls = (await readFile(argvLog, 'utf8')).split('\n').filter(Boolean).slice(verified.length);
    assert.deepEqual(calls.filter((line) => line.startsWith('version') || line.startsWith('backend features')), [], 'the backup asked neither again');
    assert.deepEqual(calls.filter((line) => /^ls/.test(line) && line.includes(`.poof-history/${runId}/Docs `)), [], 'the run\'s empty folder was not listed');
    const into = path.join(sb.dir, 'restored');
    const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes'], { env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'Docs')), await readTree(dirs.Docs!));
  });
});
