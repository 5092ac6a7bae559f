import assert from 'node:assert/strict';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRcloneShim } from '../helpers/rclone-shim.js';
import { cconfigS3, makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import type { RunningServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

/**
 * `poof cconfig --force` points the same remote name and bucket at other storage. What poof
 * remembers of the old one (what it last sent, which runs it recorded) must not stand in for
 * what the new one holds.
 */
describe('a backup after switching to another remote with cconfig', () => {
  let sb: Sandbox;
  const servers: RunningServer[] = [];
  before(async () => (sb = await makeSandbox()));
  after(async () => {
    for (const server of servers) await server.stop();
    await sb.cleanup();
  });

  it('records what the new remote holds: each of its runs comes back byte for byte', async () => {
    const { dirs } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a on the old remote\n' } });
    const dir = dirs.Docs!;
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeFile(path.join(dir, 'b.txt'), 'b on the old remote\n');
    await utimes(path.join(dir, 'b.txt'), 1_700_000_000, 1_700_000_000);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);

    const { env, s3 } = await cconfigS3(sb);
    servers.push(s3);
    await rm(dir, { recursive: true });
    await mkdir(dir);
    await writeFile(path.join(dir, 'a.txt'), 'a on the new remote\n');
    const first = await runPoof(['backup', '--json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const one = await readTree(dir);
    await writeFile(path.join(dir, 'b.txt'), 'b on the new remote, longer\n');
    const second = await runPoof(['backup', '--json'], { env });
    assert.equal(second.code, 0, second.stderr);
    const two = await readTree(dir);
    for (const [run, tree, label] of [[first, one, 'one'], [second, two, 'two']] as const) {
      const into = path.join(sb.dir, `restored-${label}`);
      const restored = await runPoof(['restore', '--at', (JSON.parse(run.stdout) as { runId: string }).runId, '--to', into, '--yes'], { env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await readTree(path.join(into, 'Docs')), tree, `run ${label}`);
    }
    const check = await runPoof(['check', '--full'], { env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  it('pointed back at the first storage, which changed meanwhile (another machine removed a file): nothing remembered from before stands in for what it holds', async () => {
    const dir = path.join(sb.home, 'Docs');
    const cloud = path.join(sb.dir, 'cloud');
    const back = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--force'], { env: sb.env });
    assert.equal(back.code, 0, back.stderr);
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    // The first storage still holds a.txt and b.txt from the first test; b.txt is gone locally
    // now only if removed: remove it here and on that storage, as another machine's run would.
    await rm(path.join(dir, 'b.txt'), { force: true });
    await rm(path.join(cloud, bucket, 'Docs', 'b.txt'));
    await writeFile(path.join(dir, 'a.txt'), 'a, back on the old remote\n');
    // History read first: this machine then knows runs of this storage, but started none here.
    assert.equal((await runPoof(['history'], { env: sb.env })).code, 0);
    const { shim, argvLog } = await writeRcloneShim(sb.dir);
    const backup = await runPoof(['backup', '--json'], { env: { ...sb.env, POOF_RCLONE: shim } });
    assert.equal(backup.code, 0, backup.stderr);
    const calls = (await readFile(argvLog, 'utf8')).split('\n');
    assert.ok(calls.some((line) => line.startsWith('lsf ') && line.includes('.poof-history ')), 'the runs on the remote were listed before a run id was chosen');
    const into = path.join(sb.dir, 'restored-back');
    const restored = await runPoof(['restore', '--at', (JSON.parse(backup.stdout) as { runId: string }).runId, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'Docs')), await readTree(dir));
  });
});
