import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists, pgrep, startPoof, waitFor, waitForTransfer } from '../helpers/background.js';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';

interface Record_ {
  command: string;
  status: string;
  exitCode: number;
  mappings: Array<{ name: string; status: string }>;
}

/**
 * Ctrl-C as a terminal sends it (SIGINT to the whole foreground process group, or the pty's
 * \x03) and as a signal to poof alone: rclone stops, the lock goes, the run is recorded as
 * interrupted, the exit code is 130, and no local file is lost.
 */
describe('SIGINT during backup, upload and download', () => {
  let sb: Sandbox;
  let src: string;
  let paths: Record<string, string>;
  const payload = Buffer.alloc(2_000_000, 7);
  const lastRecord = async (): Promise<Record_> => {
    const lines = (await readFile(paths.historyFile!, 'utf8')).trim().split('\n');
    return JSON.parse(lines[lines.length - 1]!) as Record_;
  };
  const setBwlimit = async (limit: string | undefined) => {
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    if (limit) conf.rclone = { bwlimit: limit };
    else delete conf.rclone;
    await writeFile(confFile, JSON.stringify(conf));
  };

  before(async () => {
    sb = await makeSandbox();
    src = path.join(sb.home, 'slow');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'big.bin'), payload);
    assert.equal((await runPoof(['config', '--map', `${src}=Slow`], { env: sb.env })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
    paths = JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as Record<string, string>;
  });
  after(() => sb.cleanup());

  it('SIGHUP (the terminal closed) ends a backup like SIGTERM: exit 129, recorded, unlocked', async () => {
    await setBwlimit(undefined);
    await writeFile(path.join(src, 'big.bin'), Buffer.alloc(2_000_000, 3));
    await setBwlimit('100k');
    const run = startPoof(['backup'], sb.env);
    await waitForTransfer(paths.logFile!, 'Slow', 'sync');
    process.kill(run.pid, 'SIGHUP');
    assert.equal((await run.exit).code, 129, run.stderr());
    assert.match(run.stderr(), /backup interrupted by SIGHUP/);
    assert.equal(await exists(paths.lockFile!), false);
    assert.equal(await pgrep(`rclone .*${src}`), '');
    assert.deepEqual([(await lastRecord()).status, (await lastRecord()).exitCode], ['interrupted', 129]);
  });

  it('poof alone killed outright (SIGKILL to its pid, as an out-of-memory kill): rclone stops with it, and the next backup completes the mirror', async () => {
    await setBwlimit(undefined);
    await writeFile(path.join(src, 'big.bin'), Buffer.alloc(2_000_000, 5));
    await setBwlimit('100k');
    const run = startPoof(['backup'], sb.env);
    await waitForTransfer(paths.logFile!, 'Slow', 'sync');
    assert.notEqual(await pgrep(`rclone .*${src}`), '', 'rclone is copying');
    process.kill(run.pid, 'SIGKILL');
    await run.exit;
    // Not the group: rclone's next progress line goes to poof's closed pipe, and ends it (SIGPIPE).
    await waitFor(async () => (await pgrep(`rclone .*${src}`)) === '', 15_000, 'rclone to stop with poof');
    await setBwlimit(undefined);
    const next = await runPoof(['backup'], { env: sb.env });
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr + next.stdout, /stale lock/);
    assert.deepEqual(await readFile(path.join(sb.dir, 'cloud', (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket, 'Slow', 'big.bin')), Buffer.alloc(2_000_000, 5));
  });

  const cases: Array<{ command: 'backup' | 'upload' | 'download'; how: 'group' | 'alone' | 'tty'; json: boolean }> = [];
  for (const command of ['backup', 'upload', 'download'] as const) {
    cases.push({ command, how: 'group', json: false }, { command, how: 'alone', json: true }, { command, how: 'tty', json: false });
  }

  for (const { command, how, json } of cases) {
    it(`${command}: Ctrl-C ${how === 'group' ? 'to the process group' : how === 'alone' ? 'to poof alone' : 'on a terminal'}${json ? ' (--json)' : ''} exits 130, records, unlocks, stops rclone`, async () => {
      // A remote copy to restore from, then the state each command starts from.
      await setBwlimit(undefined);
      await writeFile(path.join(src, 'big.bin'), payload);
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      if (command === 'download') await rm(path.join(src, 'big.bin'));
      if (command !== 'download') await writeFile(path.join(src, 'big.bin'), Buffer.alloc(2_000_000, 9));
      // 2 MB at 100 KiB/s keeps rclone busy for ~20 s.
      await setBwlimit('100k');
      const uploadedBefore = await readFile(path.join(paths.stateDir!, 'uploaded.json'), 'utf8').catch(() => 'none');
      const args = [command, ...(command === 'backup' ? [] : ['--yes']), ...(json ? ['--json'] : [])];
      const run = startPoof(args, sb.env, { tty: how === 'tty' });
      await waitForTransfer(paths.logFile!, 'Slow', command === 'upload' ? 'copy' : 'sync');
      if (how === 'group') process.kill(-run.pid, 'SIGINT');
      else if (how === 'alone') process.kill(run.pid, 'SIGINT');
      else run.child.stdin!.write('\x03');
      const { code } = await run.exit;
      const output = run.stdout() + run.stderr();
      assert.equal(code, 130, output);
      assert.match(output, /interrupted by SIGINT/);
      assert.doesNotMatch(output, /unexpected error|this is a bug/);
      assert.equal(await exists(paths.lockFile!), false, 'the lock is released');
      assert.equal(await pgrep(`rclone .*${src}`), '', 'rclone was stopped with poof');
      const record = await lastRecord();
      assert.equal(record.command, command);
      assert.equal(record.status, 'interrupted');
      assert.equal(record.exitCode, 130);
      if (json) assert.deepEqual(JSON.parse(run.stdout()) as unknown, { ...(JSON.parse(run.stdout()) as object), exitCode: 130, interrupted: 'SIGINT', ok: false });
      // Nothing lost: the file is local (backup, upload: never wiped without proof) or still on the remote (download).
      if (command !== 'download') assert.equal(await exists(path.join(src, 'big.bin')), true);
      // A mapping counts as uploaded (never mirrored again) only once a file of it was wiped.
      assert.equal(await readFile(path.join(paths.stateDir!, 'uploaded.json'), 'utf8').catch(() => 'none'), uploadedBefore);
      await setBwlimit(undefined);
      const after = await runPoof([command, ...(command === 'backup' ? [] : ['--yes'])], { env: sb.env });
      assert.equal(after.code, 0, after.stderr);
      assert.doesNotMatch(after.stderr, /stale lock/);
      if (command === 'download') assert.deepEqual(await readFile(path.join(src, 'big.bin')), payload);
    });
  }
});
