import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliPath, makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

const exists = (file: string) => access(file).then(() => true, () => false);

describe('one run at a time, interruptions and history', () => {
  let sb: Sandbox;
  let lockFile: string;
  let historyFile: string;
  before(async () => {
    sb = await makeSandbox();
    const src = path.join(sb.home, 'slow');
    await mkdir(src, { recursive: true });
    // 2 MB at 100 KiB/s keeps rclone busy for ~20 s: long enough to act while it runs.
    await writeFile(path.join(src, 'big.bin'), Buffer.alloc(2_000_000, 1));
    assert.equal((await runPoof(['config', '--map', `${src}=Slow`], { env: sb.env })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, rclone: { bwlimit: '100k' } }));
    const paths = JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as Record<string, string>;
    lockFile = paths.lockFile!;
    historyFile = paths.historyFile!;
  });
  after(() => sb.cleanup());

  it('refuses a second run (exit 5, naming the holder), and SIGTERM stops the first (exit 143)', async () => {
    const first = spawn(process.execPath, [cliPath, 'backup'], { env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let firstErr = '';
    first.stderr.on('data', (d: Buffer) => (firstErr += d.toString()));
    const firstExit = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
    await waitFor(() => exists(lockFile), 15_000);
    const holder = JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number; command: string };
    assert.equal(holder.pid, first.pid);
    assert.equal(holder.command, 'backup');

    const second = await runPoof(['backup'], { env: sb.env });
    assert.equal(second.code, 5);
    assert.match(second.stderr, new RegExp(`another poof run holds the lock: pid ${first.pid} \\(backup, started `));

    await new Promise((r) => setTimeout(r, 1_000));
    first.kill('SIGTERM');
    assert.equal(await firstExit, 143);
    assert.match(firstErr, /interrupted by SIGTERM/);
    assert.equal(await exists(lockFile), false, 'the lock is released');
    const rclones = await new Promise<string>((resolve) => {
      const ps = spawn('pgrep', ['-f', `rclone sync ${path.join(sb.home, 'slow')}`]);
      let out = '';
      ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
      ps.on('close', () => resolve(out.trim()));
    });
    assert.equal(rclones, '', 'rclone was stopped with poof');

    const lines = (await readFile(historyFile, 'utf8')).trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]!) as { status: string; exitCode: number; mappings: Array<{ name: string; status: string }> };
    assert.equal(last.status, 'interrupted');
    assert.equal(last.exitCode, 143);
    assert.deepEqual(last.mappings.map((m) => [m.name, m.status]), [['Slow', 'failed']]);
    const status = await runPoof(['status', '--last', '1'], { env: sb.env });
    assert.match(status.stdout, /backup {2}interrupted \(exit 143\): 1 mappings, .*Slow failed/);
  });

  it('clears a lock left by a dead process, says so, and runs', async () => {
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    delete conf.rclone;
    await writeFile(confFile, JSON.stringify(conf));
    const dead = spawn(process.execPath, ['-e', '0']);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.on('close', r));
    await writeFile(lockFile, JSON.stringify({ pid: deadPid, host: os.hostname(), command: 'backup', started: '2026-01-01T00:00:00.000Z' }));
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`cleared a stale lock left by pid ${deadPid} \\(backup, started 2026-01-01`));
    assert.equal(await exists(lockFile), false);
    const status = JSON.parse((await runPoof(['status', '--json', '--last', '1'], { env: sb.env })).stdout) as { runs: Array<{ status: string }> };
    assert.equal(status.runs[0]?.status, 'ok');
  });

  it('dry run changes nothing and is recorded as such', async () => {
    const src = path.join(sb.home, 'slow');
    await writeFile(path.join(src, 'new.txt'), 'new');
    const result = await runPoof(['backup', '--dry-run'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\[dry run\] Slow: rclone sync .* --dry-run/);
    assert.match(result.stdout, /Slow: would copy new\.txt/);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string };
    assert.equal(await exists(path.join(sb.dir, 'cloud', conf.bucket, 'Slow', 'new.txt')), false);
    const status = await runPoof(['status', '--last', '1'], { env: sb.env });
    assert.match(status.stdout, /backup \[dry run\] {2}ok/);
  });
});
