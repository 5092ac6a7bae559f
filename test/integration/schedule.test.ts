import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';

function sh(cmd: string, args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? (process.env as Record<string, string>), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A program that exits without reading its input must not fail the test with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

// A real crontab (Debian's cron) for a throwaway user, so the machine's own crontabs stay untouched.
describe('poof schedule with a real crontab', () => {
  let sb: Sandbox;
  let env: Record<string, string>;
  const user = `poofcron${process.pid % 100000}`;
  before(async () => {
    assert.equal((await sh('useradd', ['-M', '-d', '/nonexistent', user])).code, 0, 'useradd (these tests run as root, as CI does)');
    sb = await makeSandbox();
    env = { ...sb.env, POOF_CRONTAB_USER: user };
    const src = path.join(sb.home, 'Documents');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'hello 100%.txt'), 'scheduled\n');
    assert.equal((await runPoof(['config', '--map', `${src}=Documents`, '--bucket', 'bkt'], { env })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env })).code, 0);
    await sh('crontab', ['-u', user, '-'], { input: 'MAILTO=""\n# the user\'s own entry\n17 4 * * * /usr/bin/true mine\n' });
  });
  after(async () => {
    await sh('crontab', ['-u', user, '-r']);
    await sh('userdel', [user]);
    await sb.cleanup();
  });

  it('install adds one marked entry, keeps the user\'s own, and cron accepts its syntax', async () => {
    const first = await runPoof(['schedule', 'install', '--kind', 'cron', '--every', '6h'], { env });
    assert.equal(first.code, 0, first.stderr);
    const again = await runPoof(['schedule', 'install', '--kind', 'cron', '--at', '02:30'], { env });
    assert.equal(again.code, 0, again.stderr);
    const crontab = (await sh('crontab', ['-u', user, '-l'])).stdout;
    assert.match(crontab, /^17 4 \* \* \* \/usr\/bin\/true mine$/m);
    assert.equal(crontab.match(/# poof:begin /g)?.length, 1, 'reinstalling replaces the entry');
    assert.match(crontab, /^30 2 \* \* \* POOF_CONFIG_DIR=\S+ PATH=\S+ \/\S+node \/\S+cli\.js backup >> \S+schedule\.log 2>&1$/m);
    const status = await runPoof(['schedule', 'status', '--kind', 'cron'], { env });
    assert.match(status.stdout, /^installed \(cron\):\n# poof:begin/);
    assert.match(status.stdout, /^next run: .* 02:30:00 /m);
  });

  it('the installed line, run as cron runs it (no terminal, almost no environment), backs up and logs', async () => {
    const crontab = (await sh('crontab', ['-u', user, '-l'])).stdout;
    const line = /^30 2 \* \* \* (.*)$/m.exec(crontab)?.[1];
    assert.ok(line);
    // cron hands the line to /bin/sh with HOME, LOGNAME, SHELL and a minimal PATH; "\%" is its escape of "%".
    const run = await sh('/bin/sh', ['-c', line.replace(/\\%/g, '%')], { env: { HOME: sb.home, LOGNAME: user, SHELL: '/bin/sh', PATH: '/usr/bin:/bin' } });
    assert.equal(run.code, 0, run.stderr);
    await access(path.join(sb.dir, 'cloud', 'bkt', 'Documents', 'hello 100%.txt'));
    const log = await readFile(/>> (\S+schedule\.log)/.exec(line)![1]!, 'utf8');
    assert.match(log, /Documents: ok: copied 1 file/);
    assert.match(log, /backup complete: 1 of 1 mappings ok/);
    assert.doesNotMatch(log, /\u001b\[/, 'plain output, no terminal escapes');
    const status = await runPoof(['schedule', 'status', '--kind', 'cron'], { env });
    assert.match(status.stdout, /last run: .* backup {2}ok: 1 mappings, 1 files copied/);
  });

  it('remove takes out poof\'s entry only', async () => {
    const removed = await runPoof(['schedule', 'remove', '--kind', 'cron'], { env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /removed poof's cron schedule/);
    const crontab = (await sh('crontab', ['-u', user, '-l'])).stdout;
    assert.doesNotMatch(crontab, /poof/);
    assert.match(crontab, /^17 4 \* \* \* \/usr\/bin\/true mine$/m);
    const status = await runPoof(['schedule', 'status', '--kind', 'cron'], { env });
    assert.match(status.stdout, /^not installed \(cron\)/);
  });

  it('the launchd plist is a well-formed property list with absolute paths', async () => {
    const printed = await runPoof(['schedule', 'install', '--kind', 'launchd', '--at', '03:15', '--print'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    const plist = printed.stdout.replace(/^# .*\n/, '');
    const parsed = await sh('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: plist });
    assert.equal(parsed.code, 0, parsed.stderr);
    const data = JSON.parse(parsed.stdout) as { ProgramArguments: string[]; StartCalendarInterval: { Hour: number; Minute: number }; EnvironmentVariables: Record<string, string> };
    assert.deepEqual(data.StartCalendarInterval, { Hour: 3, Minute: 15 });
    assert.equal(data.ProgramArguments[2], 'backup');
    for (const arg of data.ProgramArguments.slice(0, 2)) assert.ok(path.isAbsolute(arg), arg);
    assert.equal(data.EnvironmentVariables.POOF_CONFIG_DIR, sb.confdir);
  });

  it('refuses an impossible schedule with exit 2, installing nothing', async () => {
    const bad = await runPoof(['schedule', 'install', '--kind', 'cron', '--every', '7h'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--every 7h: hours must divide the day/);
    assert.doesNotMatch((await sh('crontab', ['-u', user, '-l'])).stdout, /poof/);
  });
});
