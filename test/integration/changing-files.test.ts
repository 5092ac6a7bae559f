import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

/** A process that appends to `file` every few milliseconds until stopped, like a mailbox being written. */
function keepWriting(file: string): { stop(): Promise<void> } {
  const child = spawn(process.execPath, ['-e', `const fs=require('fs');setInterval(()=>fs.appendFileSync(${JSON.stringify(file)},'x'.repeat(64)+'\\n'),3)`], { stdio: 'ignore' });
  return {
    stop: () =>
      new Promise((resolve) => {
        child.on('close', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

describe('files that keep changing while they are read', () => {
  let sb: Sandbox;
  let dir: string;
  let remote: string;
  let paths: Record<string, string>;
  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Mail: { 'inbox.mbox': Buffer.alloc(2_000_000, 'm'), 'notes.txt': 'notes\n', 'gone.txt': 'old\n' } });
    dir = backup.dirs.Mail!;
    paths = backup.paths;
    const { bucket } = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as { bucket: string };
    remote = path.join(backup.cloud, bucket, 'Mail');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
  });
  after(() => sb.cleanup());

  it('everything else is copied and deleted; the changing file is listed; exit 7 (partly done), recorded as partial', async () => {
    await writeFile(path.join(dir, 'notes.txt'), 'new notes\n');
    await writeFile(path.join(dir, 'added.txt'), 'added\n');
    await writeFile(path.join(dir, 'gone.txt'), '');
    const { rm } = await import('node:fs/promises');
    await rm(path.join(dir, 'gone.txt'));
    // Slow enough that the writer changes the file while rclone reads it, on every try.
    const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as Record<string, unknown>;
    await writeFile(paths.poofConf!, JSON.stringify({ ...conf, rclone: { bwlimit: '4M' } }));
    await appendFile(path.join(dir, 'inbox.mbox'), 'new mail\n');
    const writer = keepWriting(path.join(dir, 'inbox.mbox'));
    let result;
    try {
      result = await runPoof(['backup', '--json'], { env: sb.env, timeoutMs: 90_000 });
    } finally {
      await writer.stop();
    }
    assert.equal(result.code, 7, result.stderr);
    const json = JSON.parse(result.stdout) as { mappings: Array<{ status: string; unreadable?: string[]; reason?: string }> };
    assert.equal(json.mappings[0]?.status, 'partial');
    assert.deepEqual(json.mappings[0]?.unreadable, ['inbox.mbox']);
    assert.match(json.mappings[0]?.reason ?? '', /1 file kept changing while being read and was not copied this time: inbox\.mbox/);
    assert.equal(await readFile(path.join(remote, 'notes.txt'), 'utf8'), 'new notes\n', 'the other files were copied');
    assert.equal(await readFile(path.join(remote, 'added.txt'), 'utf8'), 'added\n');
    assert.equal(await exists(path.join(remote, 'gone.txt')), false, 'deletions happened too');
    // rclone 1.60 moves the old copy into the run's history folder before it copies; poof puts it back.
    assert.deepEqual(await readFile(path.join(remote, 'inbox.mbox')), Buffer.alloc(2_000_000, 'm'), 'the mirror keeps the last good copy');
    const status = JSON.parse((await runPoof(['status', '--json', '--last', '1'], { env: sb.env })).stdout) as { runs: Array<{ status: string; exitCode: number }> };
    assert.deepEqual([status.runs[0]?.status, status.runs[0]?.exitCode], ['partial', 7]);

    // Once it is quiet, the next run copies it.
    await writeFile(paths.poofConf!, JSON.stringify(conf));
    const next = await runPoof(['backup'], { env: sb.env });
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(await readFile(path.join(remote, 'inbox.mbox')), await readFile(path.join(dir, 'inbox.mbox')));
  });

  it('a file that changes during the first pass only is copied by the retry: exit 0, nothing partial', async () => {
    const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as Record<string, unknown>;
    await writeFile(paths.poofConf!, JSON.stringify({ ...conf, rclone: { bwlimit: '4M' } }));
    await appendFile(path.join(dir, 'inbox.mbox'), 'more mail\n');
    await writeFile(path.join(dir, 'settled.txt'), 'settled\n');
    const writer = keepWriting(path.join(dir, 'inbox.mbox'));
    const logBefore = (await readFile(paths.logFile!, 'utf8')).length;
    let stopped = false;
    // The mail client stops writing as soon as rclone has seen the file change once.
    const stopWhenSeen = (async () => {
      for (let i = 0; i < 1500 && !stopped; i++) {
        if (/being updated/.test((await readFile(paths.logFile!, 'utf8')).slice(logBefore))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await writer.stop();
    })();
    let result;
    try {
      result = await runPoof(['backup', '--json'], { env: sb.env, timeoutMs: 90_000 });
    } finally {
      stopped = true;
      await stopWhenSeen;
      await writeFile(paths.poofConf!, JSON.stringify(conf));
    }
    assert.match((await readFile(paths.logFile!, 'utf8')).slice(logBefore), /being updated/, 'the first pass saw the file change');
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { mappings: Array<{ status: string; unreadable?: string[] }> };
    assert.deepEqual([json.mappings[0]?.status, json.mappings[0]?.unreadable], ['ok', undefined]);
    assert.deepEqual(await readFile(path.join(remote, 'inbox.mbox')), await readFile(path.join(dir, 'inbox.mbox')));
    assert.equal(await readFile(path.join(remote, 'settled.txt'), 'utf8'), 'settled\n');
  });

  it('upload: a file that keeps changing is never wiped; everything else is proven and wiped; exit 7', async () => {
    const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as Record<string, unknown>;
    await writeFile(paths.poofConf!, JSON.stringify({ ...conf, rclone: { bwlimit: '4M' } }));
    await appendFile(path.join(dir, 'inbox.mbox'), 'even more mail\n');
    const writer = keepWriting(path.join(dir, 'inbox.mbox'));
    let result;
    try {
      result = await runPoof(['upload', '--yes', '--wipe', 'delete'], { env: sb.env, timeoutMs: 90_000 });
    } finally {
      await writer.stop();
      await writeFile(paths.poofConf!, JSON.stringify(conf));
    }
    assert.equal(result.code, 7, result.stderr);
    assert.match(result.stderr + result.stdout, /kept changing while being read and was not copied this time: inbox\.mbox/);
    assert.equal(await exists(path.join(dir, 'inbox.mbox')), true, 'the changing file stays');
    for (const name of ['notes.txt', 'added.txt', 'settled.txt']) {
      assert.equal(await exists(path.join(dir, name)), false, `${name} was proven and wiped`);
      assert.equal(await exists(path.join(remote, name)), true, `${name} is on the remote`);
    }
  });
});
