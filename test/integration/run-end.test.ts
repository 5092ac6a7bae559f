import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFile, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists, pgrep, startPoof, waitFor } from '../helpers/background.js';
import { rcloneOnPath } from '../helpers/rclone-version.js';
import { cliPath, makeSandbox, mapLocalDirs, root, runPoof, type Sandbox } from '../helpers/sandbox.js';

interface RunRecordLine {
  command: string;
  status: string;
  exitCode: number;
  dryRun: boolean;
  reason?: string;
  mappings: Array<{ name: string; status: string; copied: number; deleted: number }>;
}

/** Run poof with its stdout already closed by the reader, as `| head` leaves it. */
function runWithClosedStdout(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** A shell pipeline, for `poof ... | head -N` exactly as typed; the exit code is poof's. */
function runShell(line: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', `${line}; exit \${PIPESTATUS[0]}`], { env, cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('every run that starts ends in one place: recorded, hooks, pings, exit code', () => {
  let sb: Sandbox;
  let paths: Record<string, string>;
  let confFile: string;
  let docs: string;
  let pics: string;
  let cloud: string;
  let bucket: string;
  const pings: string[] = [];
  let server: http.Server;
  let pingUrl: string;

  const records = async (): Promise<RunRecordLine[]> =>
    (await readFile(paths.historyFile!, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as RunRecordLine);
  const last = async () => (await records()).at(-1)!;
  const setConf = async (extra: Record<string, unknown>) => {
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    delete conf.hooks;
    delete conf.healthcheck;
    await writeFile(confFile, JSON.stringify({ ...conf, ...extra }));
  };

  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n' }, Pics: { 'p.txt': 'p\n' } });
    ({ paths, cloud } = backup);
    docs = backup.dirs.Docs!;
    pics = backup.dirs.Pics!;
    confFile = paths.poofConf!;
    bucket = (JSON.parse(await readFile(confFile, 'utf8')) as { bucket: string }).bucket;
    server = http.createServer((req, res) => {
      pings.push(req.url ?? '');
      req.resume();
      req.on('end', () => res.end('OK'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pingUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hc`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sb.cleanup();
  });

  it('a failing before hook is recorded as failed, pings /fail, and still runs onFailure and after', async () => {
    const afterMarker = path.join(sb.dir, 'after.txt');
    const failMarker = path.join(sb.dir, 'onfailure.txt');
    await setConf({
      healthcheck: pingUrl,
      hooks: { before: 'echo disk not mounted >&2; exit 4', onFailure: `echo "$POOF_EXIT_CODE" > '${failMarker}'`, after: `echo "$POOF_COMMAND $POOF_EXIT_CODE" > '${afterMarker}'` },
    });
    pings.length = 0;
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /the before hook failed \(exit 4: disk not mounted\); backup did not run/);
    const record = await last();
    assert.equal(record.status, 'failed');
    assert.equal(record.exitCode, 1);
    assert.match(record.reason ?? '', /before hook failed/);
    assert.deepEqual(pings, ['/hc/fail']);
    assert.equal(await readFile(failMarker, 'utf8'), '1\n');
    assert.equal(await readFile(afterMarker, 'utf8'), 'backup 1\n');
    const status = await runPoof(['status', '--last', '1'], { env: sb.env });
    assert.match(status.stdout, /backup {2}failed \(exit 1\): 0 mappings.*before hook failed/);
    await setConf({});
  });

  it('a missing rclone and a held lock are recorded with their exit codes', async () => {
    const ranHooks = path.join(sb.dir, 'hooks-missing.log');
    await setConf({ healthcheck: pingUrl, hooks: { after: `echo "after $POOF_EXIT_CODE" >> '${ranHooks}'`, onFailure: `echo "onFailure $POOF_EXIT_CODE" >> '${ranHooks}'` } });
    pings.length = 0;
    const missing = await runPoof(['backup'], { env: { ...sb.env, POOF_RCLONE: path.join(sb.dir, 'no-rclone') } });
    await setConf({});
    assert.equal(missing.code, 6);
    assert.deepEqual([(await last()).exitCode, (await last()).status], [6, 'failed']);
    assert.match((await last()).reason ?? '', /rclone not found/);
    // The run held the lock, so it ends like any failed run: the failure ping, onFailure, after.
    assert.equal(await readFile(ranHooks, 'utf8'), 'onFailure 6\nafter 6\n');
    assert.deepEqual(pings, ['/hc/fail']);

    // The test runner itself holds the lock: alive, on this host. The hooks and pings belong to
    // that run: the refused one runs none (its `after` could unmount the running one's disk).
    await writeFile(paths.lockFile!, JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'backup', started: new Date().toISOString() }));
    const hookLog = path.join(sb.dir, 'hooks.log');
    await setConf({ healthcheck: pingUrl, hooks: { before: `echo before >> '${hookLog}'`, after: `echo after >> '${hookLog}'`, onFailure: `echo onFailure >> '${hookLog}'` } });
    pings.length = 0;
    const locked = await runPoof(['upload', '--yes'], { env: sb.env });
    assert.equal(await exists(hookLog), false, 'no hook ran');
    assert.deepEqual(pings, [], 'no ping');
    await setConf({});
    assert.equal(locked.code, 5);
    const record = await last();
    assert.deepEqual([record.command, record.exitCode, record.status], ['upload', 5, 'failed']);
    assert.match(record.reason ?? '', /another poof run holds the lock/);
    assert.equal(await exists(paths.lockFile!), true, 'another run\'s lock is never taken away');
    await rm(paths.lockFile!);
    assert.equal(await exists(path.join(docs, 'a.txt')), true);
  });

  it('a poof.conf that maps no directories fails every run (exit 3, recorded), never an ok that backs up nothing', async () => {
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, paths: {} }));
    try {
      for (const args of [['backup'], ['upload', '--yes'], ['download', '--yes'], ['check'], ['sync'], ['prune']]) {
        const result = await runPoof(args, { env: sb.env });
        assert.equal(result.code, 3, `${args[0]!}: ${result.stdout}${result.stderr}`);
        assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
        assert.match(result.stderr, /poof\.conf maps no directories.*poof config --map DIR=NAME --force/);
        const record = await last();
        assert.deepEqual([record.command, record.exitCode, record.status], [args[0], 3, 'failed']);
      }
      const status = await runPoof(['status', '--last', '1'], { env: sb.env });
      assert.match(status.stdout, /prune {2}failed \(exit 3\)/);
    } finally {
      await writeFile(confFile, JSON.stringify(conf));
    }
    assert.equal(await readFile(path.join(docs, 'a.txt'), 'utf8'), 'a\n');
  });

  it('a link to nothing fails the backup in words that name it and the way out, each error once', async () => {
    const link = path.join(docs, 'gone-drive');
    await symlink(path.join(sb.dir, 'unmounted-disk'), link);
    try {
      const failed = await runPoof(['backup'], { env: sb.env });
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, new RegExp(`Docs: FAILED: rclone exited 1: ${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a link to nothing \\(its target is missing\\)`));
      assert.match(failed.stderr, /poof: Docs: remove the link or bring back its target; or leave links out \(`poof config --symlinks skip --force`\)/);
      const lines = failed.stderr.split('\n').filter((line) => line.startsWith('poof: Docs: '));
      assert.deepEqual(lines, [...new Set(lines)], 'no line twice');
      // The way out it names works.
      assert.equal((await runPoof(['config', '--symlinks', 'skip', '--force'], { env: sb.env })).code, 0);
      const skipped = await runPoof(['backup'], { env: sb.env });
      assert.equal(skipped.code, 0, skipped.stderr);
    } finally {
      await rm(link);
      assert.equal((await runPoof(['config', '--symlinks', 'follow', '--force'], { env: sb.env })).code, 0);
    }
  });

  it('a hook is done when its shell exits, even if it leaves a process running; Ctrl-C stops a hook at once', async () => {
    const marker = path.join(sb.dir, 'hook-started');
    // A background process that holds the hook's output open would hold a waiting run.
    await setConf({ hooks: { before: `sleep 19.5 & echo started > '${marker}'`, timeoutSeconds: 8 } });
    const began = Date.now();
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - began < 7_000, `the run waited ${Date.now() - began} ms for the hook's background process`);
    assert.equal(await readFile(marker, 'utf8'), 'started\n');
    await runShell('pkill -f "sleep 19.5"', sb.env);

    await setConf({ hooks: { before: 'sleep 29.5; echo done' } });
    const run = startPoof(['backup'], sb.env);
    await waitFor(async () => (await pgrep('sleep 29.5')) !== '', 10_000, 'the hook running');
    const stopAt = Date.now();
    process.kill(run.pid, 'SIGINT');
    assert.equal((await run.exit).code, 130, run.stderr());
    assert.ok(Date.now() - stopAt < 8_000, 'the hook was stopped, not waited for');
    assert.equal(await pgrep('sleep 29.5'), '', 'the hook\'s whole process group was stopped');
    assert.equal((await last()).status, 'interrupted');
    await setConf({});
  });

  it('dry-run summaries, JSON and history count exactly what is listed', async () => {
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeFile(path.join(docs, 'new1.txt'), 'n1');
    await writeFile(path.join(docs, 'new2.txt'), 'n2');
    await rm(path.join(docs, 'a.txt'));
    const text = await runPoof(['backup', '--dry-run', '--only', 'Docs'], { env: sb.env });
    assert.equal(text.code, 0, text.stderr);
    const listed = text.stdout.split('\n').filter((l) => /^Docs: would (copy|delete) /.test(l)).sort();
    assert.deepEqual(listed, ['Docs: would copy new1.txt', 'Docs: would copy new2.txt', 'Docs: would delete a.txt']);
    assert.match(text.stdout, /Docs: ok: would copy 2 files \(4 B\), would delete 1,/);
    const record = await last();
    assert.deepEqual([record.dryRun, record.mappings[0]?.copied, record.mappings[0]?.deleted], [true, 2, 1]);
    const json = JSON.parse((await runPoof(['backup', '--dry-run', '--only', 'Docs', '--json'], { env: sb.env })).stdout) as { mappings: Array<{ copied: number; deleted: number }> };
    assert.deepEqual([json.mappings[0]?.copied, json.mappings[0]?.deleted], [2, 1]);
    const upload = JSON.parse((await runPoof(['upload', '--dry-run', '--only', 'Docs', '--json'], { env: sb.env })).stdout) as { mappings: Array<{ copied: number; deleted: number }> };
    assert.deepEqual([upload.mappings[0]?.copied, upload.mappings[0]?.deleted], [2, 0], 'upload copies and never deletes');
    const uploadText = await runPoof(['upload', '--dry-run', '--only', 'Docs'], { env: sb.env });
    assert.equal(uploadText.code, 0, uploadText.stderr);
    const uploadListed = uploadText.stdout.split('\n').filter((l) => /^Docs: would (copy|delete) /.test(l)).sort();
    assert.deepEqual(uploadListed, ['Docs: would copy new1.txt', 'Docs: would copy new2.txt']);
    assert.match(uploadText.stdout, /Docs: ok: would copy 2 files \(4 B\)/);
    const uploadRecord = await last();
    assert.deepEqual([uploadRecord.command, uploadRecord.dryRun, uploadRecord.mappings[0]?.copied, uploadRecord.mappings[0]?.deleted], ['upload', true, 2, 0]);
    assert.equal(await exists(path.join(cloud, bucket, 'Docs', 'new1.txt')), false, 'a dry run sends nothing');
  });

  it('a real run: the JSON result, its rclone stats and the record agree with what was sent', async () => {
    type Json = { mappings: Array<{ copied: number; deleted: number; stats: { transfers: number; deletes: number; bytes: number } }> };
    const real = JSON.parse((await runPoof(['backup', '--only', 'Docs', '--json'], { env: sb.env })).stdout) as Json;
    const sent = real.mappings[0]!;
    assert.deepEqual([sent.copied, sent.deleted, sent.stats.transfers, sent.stats.deletes, sent.stats.bytes], [2, 1, 2, 1, 4]);
    assert.deepEqual([(await last()).mappings[0]?.copied, (await last()).mappings[0]?.deleted], [2, 1]);
    // A permission-only change is sent by a pass of its own (rclone never re-sends it): its counts add up too.
    execFileSync('chmod', ['600', path.join(docs, 'new1.txt')]);
    await writeFile(path.join(docs, 'new3.txt'), 'n33');
    const modes = JSON.parse((await runPoof(['backup', '--only', 'Docs', '--json'], { env: sb.env })).stdout) as Json;
    const again = modes.mappings[0]!;
    assert.deepEqual([again.copied, again.deleted, again.stats.transfers, again.stats.deletes, again.stats.bytes], [2, 0, 2, 0, 5]);
  });

  it('a closed stdout never stops a run: | head -2 still backs up every mapping, records and unlocks', async () => {
    await writeFile(path.join(pics, 'q.txt'), 'q\n');
    await writeFile(path.join(docs, 'late.txt'), 'late\n');
    const piped = await runShell(`node '${cliPath}' backup | head -2`, sb.env);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.split('\n').filter(Boolean).length, 2);
    assert.doesNotMatch(piped.stderr, /EPIPE|Error|at /);
    const record = await last();
    assert.deepEqual([record.status, record.mappings.map((m) => `${m.name} ${m.status}`)], ['ok', ['Docs ok', 'Pics ok']]);
    assert.equal(await exists(path.join(cloud, bucket, 'Pics', 'q.txt')), true, 'the second mapping ran');
    assert.equal(await exists(paths.lockFile!), false);

    await writeFile(path.join(pics, 'r.txt'), 'r\n');
    const closed = await runWithClosedStdout(['backup'], sb.env);
    assert.equal(closed.code, 0, closed.stderr);
    assert.equal(closed.stderr, '');
    assert.equal(await exists(path.join(cloud, bucket, 'Pics', 'r.txt')), true);
    assert.equal((await last()).status, 'ok');
  });

  it('an rclone usage error reads the same on every rclone version (exit 2 only from 1.69)', async () => {
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, rclone: { bwlimit: 'garbage' } }));
    const result = await runPoof(['backup', '--only', 'Docs'], { env: sb.env });
    await writeFile(confFile, JSON.stringify(conf));
    assert.equal(result.code, 1);
    const rcloneExit = rcloneOnPath().can.usageExit2 ? 2 : 1;
    assert.match(result.stderr, new RegExp(`Docs: FAILED: rclone exited ${rcloneExit}: rclone refused its command line \\(invalid argument "garbage" for "--bwlimit" flag`));
    assert.match(result.stderr, /poof: Docs: check the rclone settings in poof\.conf/);
  });

  it('--help, paths and verify end quietly when the reader goes away', async () => {
    for (const args of [['--help'], ['paths'], ['verify', '--offline'], ['status']]) {
      const closed = await runWithClosedStdout(args, sb.env);
      assert.equal(closed.stderr, '', `${args.join(' ')}: ${closed.stderr}`);
      assert.equal(closed.code, 0, args.join(' '));
      const piped = await runShell(`node '${cliPath}' ${args.join(' ')} | head -1`, sb.env);
      assert.equal(piped.code, 0, args.join(' '));
      assert.equal(piped.stderr, '', args.join(' '));
      assert.equal(piped.stdout.split('\n').filter(Boolean).length, 1);
    }
  });
});
