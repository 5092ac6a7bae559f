import assert from 'node:assert/strict';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { rcloneOnPath } from '../helpers/rclone-version.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

/**
 * rclone's delete limits on a backup: rclone deletes up to the limit, then stops the run (exit 7
 * on 1.60 and on the current release). poof says which setting tripped and what to check.
 */
describe('delete limits (rclone.maxDelete, rclone.maxDeleteSize)', () => {
  let sb: Sandbox;
  let local: string;
  let remote: string;
  const files = ['a.bin', 'b.bin', 'c.bin', 'd.bin', 'e.bin'];

  beforeEach(async () => {
    sb = await makeSandbox();
    const tree = Object.fromEntries(files.map((f, i) => [f, Buffer.alloc(2000, i)]));
    const { dirs, cloud } = await mapLocalDirs(sb, { Docs: tree });
    local = dirs.Docs!;
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string };
    remote = path.join(cloud, conf.bucket, 'Docs');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    for (const f of files.slice(1)) await rm(path.join(local, f));
  });
  afterEach(() => sb.cleanup());

  async function setTuning(tuning: Record<string, unknown>): Promise<void> {
    const file = path.join(sb.confdir, 'poof.conf');
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), rclone: tuning }));
  }

  it('maxDelete: deletes up to the limit, stops, and names the setting', async () => {
    await setTuning({ maxDelete: 2 });
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Docs: FAILED: rclone exited 7: the backup would delete more on the remote than poof\.conf's rclone\.maxDelete allows/);
    assert.match(result.stderr, /check that the local directory is complete .*raise rclone\.maxDelete for one run/);
    assert.equal((await readdir(remote)).length, 3, 'rclone deleted 2 of the 4 files, then stopped');
  });

  it('maxDeleteSize: refused in one line before anything runs on rclone older than 1.62, applied from 1.62', async () => {
    await setTuning({ maxDeleteSize: '5k' });
    const result = await runPoof(['backup'], { env: sb.env });
    const verify = await runPoof(['verify', '--offline'], { env: sb.env });
    if (!rcloneOnPath().can.maxDeleteSize) {
      assert.equal(result.code, 6);
      assert.equal(result.stderr.trim().split('\n')[0], `poof: poof.conf "rclone.maxDeleteSize" needs rclone 1.62 or newer; this is ${rcloneOnPath().text}; install a newer rclone (https://rclone.org/install/), or remove the setting from poof.conf`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.deepEqual((await readdir(remote)).sort(), files, 'nothing was deleted');
      assert.match(verify.stdout, /FAIL {0,2}rclone version: poof\.conf "rclone\.maxDeleteSize" needs rclone 1\.62 or newer/);
      assert.equal(verify.code, 4);
    } else {
      assert.equal(result.code, 1);
      assert.match(result.stderr, /rclone exited 7: the backup would delete more on the remote than poof\.conf's rclone\.maxDeleteSize allows/);
      assert.equal((await readdir(remote)).length, 3, '4000 bytes deleted, the third 2000 would pass 5 KiB');
      assert.doesNotMatch(verify.stdout, /rclone version/);
    }
  });
});
