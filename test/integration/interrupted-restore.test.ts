import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists, startPoof, waitForTransfer } from '../helpers/background.js';
import { rcloneOnPath } from '../helpers/rclone-version.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startSshd, type SshServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';
import { seeded } from '../helpers/seeded.js';



/** Files below dir by relative path, leaving out restore staging directories. */
async function realFiles(dir: string): Promise<Map<string, Buffer>> {
  const all = await readTree(dir);
  return new Map([...all].filter(([rel]) => !rel.startsWith('.poof-restore-')));
}

const files = {
  'one.bin': Buffer.alloc(1_000_000, 1),
  'two.bin': Buffer.alloc(1_000_000, 2),
  'sub/three.bin': Buffer.alloc(1_000_000, 3),
};

describe('an interrupted restore never leaves a partial file under a real name', () => {
  let sb: Sandbox;
  let dir: string;
  let paths: Record<string, string>;
  let remote: string;
  const setBwlimit = async (limit: string | undefined) => {
    const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as Record<string, unknown>;
    if (limit) conf.rclone = { bwlimit: limit };
    else delete conf.rclone;
    await writeFile(paths.poofConf!, JSON.stringify(conf));
  };

  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Data: files });
    dir = backup.dirs.Data!;
    paths = backup.paths;
    const { bucket } = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as { bucket: string };
    remote = path.join(backup.cloud, bucket, 'Data');
    const first = await runPoof(['backup'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => sb.cleanup());

  it('SIGTERM after 3 s: no truncated file; backup and upload refuse until the restore is finished', async () => {
    for (const name of Object.keys(files)) await rm(path.join(dir, name));
    await setBwlimit('500k');
    const run = startPoof(['download', '--yes'], sb.env);
    await waitForTransfer(paths.logFile!, 'Data', 'copy');
    await new Promise((r) => setTimeout(r, 2_300));
    process.kill(-run.pid, 'SIGTERM');
    assert.equal((await run.exit).code, 143, run.stderr());
    for (const [rel, content] of await realFiles(dir)) assert.ok(content.equals(files[rel as keyof typeof files]), `${rel} is complete or absent`);
    await setBwlimit(undefined);

    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 1);
    assert.match(backup.stderr, /Data: REFUSED: the last restore into .* did not finish, .*finish it with `poof download --only Data`, or pass --ignore-unfinished-restore/);
    const upload = await runPoof(['upload', '--yes'], { env: sb.env });
    assert.equal(upload.code, 1);
    assert.match(upload.stderr, /Data: REFUSED: the last restore into .* did not finish/);
    for (const [rel, content] of await readTree(remote)) assert.ok(content.equals(files[rel as keyof typeof files]), `remote ${rel} is intact`);

    const again = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await readTree(dir), new Map(Object.entries(files)));
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.poof-restore-')), [], 'the staging directory is gone');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
  });

  it('10 downloads killed at seeded random moments (SIGINT, SIGTERM, SIGKILL to the group), each followed by download, backup and upload: nothing is ever lost', async () => {
    const seed = Number(process.env.POOF_TEST_SEED ?? 20261125);
    const random = seeded(seed);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    const localEdit = Buffer.from('a local change the restore replaces\n');
    const unfinishedRestore = async () =>
      Object.keys((JSON.parse((await readFile(path.join(paths.stateDir!, 'unfinished.json'), 'utf8').catch(() => '{}')) || '{}') as { restores?: Record<string, unknown> }).restores ?? {}).includes(dir);
    let midRestore = 0;
    for (let round = 0; round < 10; round++) {
      // Something to restore: files gone (wiped by the last round's upload) and one changed locally.
      await rm(path.join(dir, 'one.bin'), { force: true });
      await mkdir(path.join(dir, 'sub'), { recursive: true });
      await writeFile(path.join(dir, 'sub/three.bin'), localEdit);
      await setBwlimit('1M');
      const signal = signals[Math.floor(random() * signals.length)]!;
      // From the planning (before anything is written) to the end of the copy (~2-3 s at 1 MB/s).
      const delay = Math.floor(random() * 3_500);
      const context = `seed ${seed}, round ${round} (${signal} after ${delay} ms)`;
      const run = startPoof(['download', '--yes'], sb.env);
      await new Promise((r) => setTimeout(r, delay));
      try {
        process.kill(-run.pid, signal);
      } catch {
        // It finished before the signal: the checks below hold all the same.
      }
      await run.exit;
      for (const [rel, content] of await realFiles(dir)) {
        const original = files[rel as keyof typeof files];
        assert.ok(content.equals(original) || (rel === 'sub/three.bin' && content.equals(localEdit)), `${context}: ${rel} is partial`);
      }
      await setBwlimit(undefined);
      if (await unfinishedRestore()) {
        midRestore++;
        const refused = await runPoof(['backup'], { env: sb.env });
        assert.equal(refused.code, 1, `${context}: a half-restored directory must not be backed up`);
        assert.match(refused.stderr, /Data: REFUSED: the last restore into .* did not finish/, context);
      }
      const again = await runPoof(['download', '--yes'], { env: sb.env });
      assert.equal(again.code, 0, `${context}: ${again.stderr}`);
      assert.deepEqual(await realFiles(dir), new Map(Object.entries(files)), context);
      assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.poof-restore-')), [], `${context}: the staging directory is gone`);
      const backup = await runPoof(['backup', '--json'], { env: sb.env });
      assert.equal(backup.code, 0, `${context}: ${backup.stderr}`);
      assert.deepEqual((JSON.parse(backup.stdout) as { mappings: Array<{ copied: number; deleted: number }> }).mappings.map((m) => [m.copied, m.deleted]), [[0, 0]], context);
      const upload = await runPoof(['upload', '--yes', '--wipe', 'delete'], { env: sb.env });
      assert.equal(upload.code, 0, `${context}: ${upload.stderr}`);
      assert.deepEqual(await readTree(remote), new Map(Object.entries(files)), `${context}: every original file is on the remote, byte for byte`);
      assert.deepEqual([...(await realFiles(dir)).keys()], [], `${context}: and was wiped locally only after`);
    }
    // The seed's moments must hit the restore itself, not only its planning or its end.
    assert.ok(midRestore >= 4, `seed ${seed}: only ${midRestore} of 10 kills landed while the restore was writing`);
  });
});

for (const storage of ['a local directory', 'OpenSSH SFTP'] as const) {
  describe(`a backup killed mid-transfer onto storage that writes in place: ${storage}`, () => {
    let sb: Sandbox;
    let dir: string;
    let paths: Record<string, string>;
    let remote: string;
    let sshd: SshServer | undefined;
    before(async () => {
      sb = await makeSandbox();
      const backup = await mapLocalDirs(sb, { Big: { 'big.bin': Buffer.alloc(3_000_000, 5), 'small.txt': 'small\n' } });
      dir = backup.dirs.Big!;
      paths = backup.paths;
      const { bucket } = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as { bucket: string };
      remote = path.join(backup.cloud, bucket, 'Big');
      if (storage === 'OpenSSH SFTP') {
        sshd = await startSshd(path.join(sb.dir, 'sshd-root'));
        const made = await runPoof(
          ['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', sshd.user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none', '--force'],
          { env: sb.env },
        );
        assert.equal(made.code, 0, made.stderr);
        remote = path.join(sshd.root, bucket, 'Big');
      }
    });
    after(async () => {
      await sshd?.stop();
      await sb.cleanup();
    });

    it('a restore names the files in flight; the next backup replaces the partial remote file', async () => {
      const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as Record<string, unknown>;
      await writeFile(paths.poofConf!, JSON.stringify({ ...conf, rclone: { bwlimit: '300k' } }));
      const run = startPoof(['backup'], sb.env);
      await waitForTransfer(paths.logFile!, 'Big', 'sync');
      await new Promise((r) => setTimeout(r, 2_500));
      process.kill(-run.pid, 'SIGKILL');
      await run.exit;
      // rclone before 1.63 writes local and SFTP files in place: the remote file is cut short.
      // From 1.63 it writes "big.bin.<hash>.partial" and renames it when complete: no big.bin yet.
      const writesInPlace = !rcloneOnPath().can.partialUploads;
      if (writesInPlace) assert.ok((await readFile(path.join(remote, 'big.bin'))).length < 3_000_000, 'the remote file was cut short');
      else assert.equal(await exists(path.join(remote, 'big.bin')), false, 'nothing under the real name');

      const dry = await runPoof(['download', '--dry-run'], { env: sb.env });
      assert.match(dry.stderr, /cleared a stale lock left by pid \d+ \(backup/);
      assert.match(dry.stderr, /Big: warning: the last backup \(started .*\) did not finish; these files were being written and may be incomplete on the remote: big\.bin.*`poof backup` completes the remote copy/);
      await writeFile(paths.poofConf!, JSON.stringify(conf));
      const next = await runPoof(['backup'], { env: sb.env });
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(await realFiles(remote), await readTree(dir));
      const after = await runPoof(['download', '--dry-run'], { env: sb.env });
      assert.doesNotMatch(after.stderr, /did not finish/);
    });
  });
}
