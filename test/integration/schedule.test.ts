import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
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

/** The first executable `name` on PATH, if any. */
async function which(name: string, pathVariable = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of pathVariable.split(':').filter(Boolean)) {
    const file = path.join(dir, name);
    if (await access(file, fsConstants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

/** A sandbox with a poof.conf and a local "cloud", ready for `schedule install`. */
async function configuredSandbox(): Promise<Sandbox> {
  const sb = await makeSandbox();
  const src = path.join(sb.home, 'Documents');
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, 'hello 100%.txt'), 'scheduled\n');
  assert.equal((await runPoof(['config', '--map', `${src}=Documents`, '--bucket', 'bkt'], { env: sb.env })).code, 0);
  assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
  return sb;
}

/** A stand-in for a scheduler's control program that cannot run here (no user bus, no macOS). */
async function fakeProgram(dir: string, name: string, script: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, name), `#!/bin/sh\n${script}\n`);
  await chmod(path.join(dir, name), 0o755);
}

const stderrLines = (text: string) => text.split('\n').filter((line) => line !== '');

// A real crontab (Debian's cron) for a throwaway user, so the machine's own crontabs stay untouched.
describe('poof schedule with a real crontab', () => {
  let sb: Sandbox;
  let env: Record<string, string>;
  const user = `poofcron${process.pid % 100000}`;
  let userAdded = false;
  // useradd and userdel live in sbin, which a root shell's PATH may lack (su without "-").
  const adminEnv = { ...(process.env as Record<string, string>), PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` };
  before(async () => {
    // Failing, not skipping: a skipped test would count as a pass on a machine that never ran it.
    if (!(await which('crontab'))) {
      assert.fail('crontab not found: the real-cron schedule tests need the package `cron` (Debian/Ubuntu: apt-get install cron)');
    }
    // Only root may add a user and edit another user's crontab (`crontab -u`). Running as
    // someone else would mean editing that person's own crontab, so these tests need root.
    if (process.getuid?.() !== 0) {
      assert.fail('the real-cron schedule tests need root: they add a throwaway user with useradd and edit only its crontab (crontab -u), so the crontab of whoever runs the tests is never touched; both need root (run the tests as root, as .ci/run does in CI)');
    }
    if (!(await which('useradd', adminEnv.PATH))) {
      assert.fail('useradd not found: the real-cron schedule tests need it (Debian/Ubuntu package `passwd`) to add a throwaway user');
    }
    const added = await sh('useradd', ['-M', '-d', '/nonexistent', user], { env: adminEnv });
    assert.equal(added.code, 0, `useradd ${user} failed: ${added.stderr.trim()}`);
    userAdded = true;
    sb = await configuredSandbox();
    env = { ...sb.env, POOF_CRONTAB_USER: user };
    await sh('crontab', ['-u', user, '-'], { input: 'MAILTO=""\n# the user\'s own entry\n17 4 * * * /usr/bin/true mine\n' });
  });
  after(async () => {
    if (userAdded) {
      await sh('crontab', ['-u', user, '-r']);
      await sh('userdel', [user], { env: adminEnv });
    }
    await sb?.cleanup();
  });

  it('install adds one marked entry, keeps the user\'s own, and cron accepts its syntax', async () => {
    const first = await runPoof(['schedule', 'install', '--kind', 'cron', '--every', '6h'], { env });
    assert.equal(first.code, 0, first.stderr);
    const again = await runPoof(['schedule', 'install', '--kind', 'cron', '--at', '02:30'], { env });
    assert.equal(again.code, 0, again.stderr);
    const crontab = (await sh('crontab', ['-u', user, '-l'])).stdout;
    assert.match(crontab, /^17 4 \* \* \* \/usr\/bin\/true mine$/m);
    assert.equal(crontab.match(/# poof:begin /g)?.length, 1, 'reinstalling replaces the entry');
    assert.match(crontab, /^30 2 \* \* \* POOF_CONFIG_DIR=\S+ PATH=\S+ \/\S+node \/\S+poof\.js backup >> \S+schedule\.log 2>&1$/m);
    const status = await runPoof(['schedule', 'status', '--kind', 'cron'], { env });
    assert.match(status.stdout, /^installed \(cron\):\n# poof:begin/);
    assert.match(status.stdout, /^next run: .* 02:30:00 /m);
  });

  it('--print writes exactly the crontab lines install adds, and where they go on stderr', async () => {
    const printed = await runPoof(['schedule', 'install', '--kind', 'cron', '--at', '02:30', '--print'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    const block = /^# poof:begin [^]*?^# poof:end \S+\n/m.exec((await sh('crontab', ['-u', user, '-l'])).stdout)?.[0];
    assert.equal(printed.stdout, block);
    assert.equal(printed.stdout.split('\n').length, 4, 'begin marker, schedule line, end marker');
    assert.deepEqual(stderrLines(printed.stderr), [`poof: this belongs in the crontab of ${user}; nothing was installed`]);
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

  it('refuses an impossible schedule with exit 2, installing nothing', async () => {
    const bad = await runPoof(['schedule', 'install', '--kind', 'cron', '--every', '7h'], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--every 7h: hours must divide the day/);
    assert.doesNotMatch((await sh('crontab', ['-u', user, '-l'])).stdout, /poof/);
  });
});

describe('poof schedule --print', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await configuredSandbox();
  });
  after(() => sb.cleanup());

  it('launchd: stdout is exactly the plist, a valid property list with absolute paths; its path goes to stderr', async () => {
    const printed = await runPoof(['schedule', 'install', '--kind', 'launchd', '--at', '03:15', '--print'], { env: sb.env });
    assert.equal(printed.code, 0, printed.stderr);
    // The output as-is is what `--print > x.plist` leaves in the file.
    const file = path.join(sb.dir, 'x.plist');
    await writeFile(file, printed.stdout);
    const parsed = await sh('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file]);
    assert.equal(parsed.code, 0, parsed.stderr);
    const data = JSON.parse(parsed.stdout) as { Label: string; ProgramArguments: string[]; StartCalendarInterval: { Hour: number; Minute: number }; EnvironmentVariables: Record<string, string> };
    assert.deepEqual(data.StartCalendarInterval, { Hour: 3, Minute: 15 });
    assert.equal(data.ProgramArguments[2], 'backup');
    for (const arg of data.ProgramArguments.slice(0, 2)) assert.ok(path.isAbsolute(arg), arg);
    assert.equal(data.EnvironmentVariables.POOF_CONFIG_DIR, sb.confdir);
    const plist = path.join(sb.home, 'Library', 'LaunchAgents', `${data.Label}.plist`);
    assert.deepEqual(stderrLines(printed.stderr), [`poof: this belongs in ${plist}; nothing was installed`]);
    await assert.rejects(access(plist), 'nothing installed');
  });

  it('systemd: --unit service and --unit timer each print exactly one unit', async () => {
    const dir = path.join(sb.home, '.config', 'systemd', 'user');
    const service = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h', '--print', '--unit', 'service'], { env: sb.env });
    assert.equal(service.code, 0, service.stderr);
    assert.deepEqual(service.stdout.match(/^\[\w+\]$/gm), ['[Unit]', '[Service]']);
    assert.match(service.stdout, /^ExecStart="\/\S+" "\/\S+poof\.js" "backup"$/m);
    const timer = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h', '--print', '--unit', 'timer'], { env: sb.env });
    assert.equal(timer.code, 0, timer.stderr);
    assert.deepEqual(timer.stdout.match(/^\[\w+\]$/gm), ['[Unit]', '[Timer]', '[Install]']);
    assert.match(timer.stdout, /^OnCalendar=\*-\*-\* 00\/6:00:00$/m);
    const id = /poof-(\w+)\.timer/.exec(timer.stderr)?.[1];
    assert.deepEqual(stderrLines(timer.stderr), [`poof: this belongs in ${dir}/poof-${id}.timer; the service (--unit service) belongs in ${dir}/poof-${id}.service; nothing was installed`]);
    await assert.rejects(access(dir), 'nothing installed');
  });

  it('systemd without --unit is a usage error naming --unit service|timer; --unit elsewhere too', async () => {
    const both = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h', '--print'], { env: sb.env });
    assert.equal(both.code, 2);
    assert.equal(both.stdout, '');
    assert.deepEqual(stderrLines(both.stderr), ['poof: --print shows one file: add --unit service|timer to choose the systemd unit']);
    const misplaced = await runPoof(['schedule', 'install', '--kind', 'launchd', '--every', '6h', '--print', '--unit', 'timer'], { env: sb.env });
    assert.equal(misplaced.code, 2);
    assert.deepEqual(stderrLines(misplaced.stderr), ['poof: --unit applies only to --kind systemd --print']);
  });
});

describe('poof schedule when the scheduler is missing or fails', () => {
  let sb: Sandbox;
  let fakeBin: string;
  let env: Record<string, string>;
  before(async () => {
    sb = await configuredSandbox();
    fakeBin = path.join(sb.dir, 'fake-bin');
    env = { ...sb.env, PATH: `${fakeBin}:${sb.env.PATH ?? ''}` };
    // systemctl as it answers without a user bus (containers, CI): the real one cannot reach a user manager here.
    await fakeProgram(fakeBin, 'systemctl', 'if [ -n "$FAKE_SYSTEMCTL_FAIL" ]; then echo "Failed to connect to bus: No medium found" >&2; exit 1; fi');
    // launchctl as macOS answers when loading a LaunchAgent fails.
    await fakeProgram(fakeBin, 'launchctl', 'case "$1" in bootout) echo "Boot-out failed: 3: No such process" >&2; exit 3;; bootstrap) echo "Bootstrap failed: 5: Input/output error" >&2; exit 5;; esac; exit 0');
  });
  after(() => sb.cleanup());

  it('without crontab on PATH: one line saying cron is not installed and what to do, exit 2', async () => {
    // rclone is found (so the run gets as far as the crontab), crontab is not.
    const bin = path.join(sb.dir, 'no-cron-bin');
    await mkdir(bin, { recursive: true });
    await symlink((await which('rclone'))!, path.join(bin, 'rclone'));
    const noCron = { ...sb.env, PATH: bin };
    assert.equal(await which('crontab', bin), undefined);
    const install = await runPoof(['schedule', 'install', '--kind', 'cron', '--every', '6h'], { env: noCron });
    assert.equal(install.code, 2, install.stderr);
    assert.deepEqual(stderrLines(install.stderr), [
      'poof: crontab is not installed; install cron (Debian/Ubuntu: sudo apt-get install cron) or pick another kind with --kind systemd (or --kind launchd on macOS)',
    ]);
    const status = await runPoof(['schedule', 'status', '--kind', 'cron'], { env: noCron });
    assert.equal(status.code, 2);
    assert.match(status.stderr, /^poof: crontab is not installed; /);
  });

  it('a systemd install that systemctl refuses removes its unit files; status says not installed', async () => {
    const failed = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h'], { env: { ...env, FAKE_SYSTEMCTL_FAIL: '1' } });
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(stderrLines(failed.stderr), [
      'poof: systemctl --user daemon-reload failed (exit 1): Failed to connect to bus: No medium found; poof removed the unit files it wrote; nothing is installed; without a systemd user instance (e.g. in a container, or over ssh without `loginctl enable-linger`) use --kind cron',
    ]);
    await assert.rejects(access(path.join(sb.home, '.config', 'systemd')), 'the directories it made are gone too');
    const status = await runPoof(['schedule', 'status', '--kind', 'systemd'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^not installed \(systemd\)/);
  });

  it('a failed systemd reinstall puts back the schedule that was installed', async () => {
    const dir = path.join(sb.home, '.config', 'systemd', 'user');
    const first = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h'], { env });
    assert.equal(first.code, 0, first.stderr);
    const installed = Object.fromEntries(await Promise.all((await readdir(dir)).map(async (name) => [name, await readFile(path.join(dir, name), 'utf8')] as const)));
    const printed = await runPoof(['schedule', 'install', '--kind', 'systemd', '--every', '6h', '--print', '--unit', 'service'], { env });
    const serviceName = Object.keys(installed).find((name) => name.endsWith('.service'))!;
    assert.equal(printed.stdout, installed[serviceName], '--print shows the file install writes');
    const again = await runPoof(['schedule', 'install', '--kind', 'systemd', '--at', '02:30'], { env: { ...env, FAKE_SYSTEMCTL_FAIL: '1' } });
    assert.equal(again.code, 1);
    assert.deepEqual(stderrLines(again.stderr), [
      'poof: systemctl --user daemon-reload failed (exit 1): Failed to connect to bus: No medium found; the schedule installed before was put back; without a systemd user instance (e.g. in a container, or over ssh without `loginctl enable-linger`) use --kind cron',
    ]);
    for (const [name, content] of Object.entries(installed)) assert.equal(await readFile(path.join(dir, name), 'utf8'), content, name);
    const status = await runPoof(['schedule', 'status', '--kind', 'systemd'], { env });
    assert.match(status.stdout, /^installed \(systemd\):\n[^]*^OnCalendar=\*-\*-\* 00\/6:00:00$/m);
    assert.match(status.stdout, /^next run: .* (00|06|12|18):00:00 /m);
    assert.equal((await runPoof(['schedule', 'remove', '--kind', 'systemd'], { env })).code, 0);
  });

  it('a launchd install that launchctl refuses removes its plist; status says not installed', async () => {
    const failed = await runPoof(['schedule', 'install', '--kind', 'launchd', '--every', '6h'], { env });
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /^poof: launchctl bootstrap gui\/\d+ \S+\.plist failed \(exit 5\): Bootstrap failed: 5: Input\/output error; poof removed the plist it wrote; nothing is installed\n$/);
    await assert.rejects(access(path.join(sb.home, 'Library')), 'the plist and the directories it made are gone');
    const status = await runPoof(['schedule', 'status', '--kind', 'launchd'], { env });
    assert.match(status.stdout, /^not installed \(launchd\)/);
  });
});

describe('poof schedule install --command watch: a service kept running, never a timer or a cron entry', () => {
  let sb: Sandbox;
  let env: Record<string, string>;
  let calls: string;
  before(async () => {
    sb = await configuredSandbox();
    const fakeBin = path.join(sb.dir, 'fake-bin');
    calls = path.join(sb.dir, 'systemctl.calls');
    // systemctl records what it is asked: the real one cannot reach a user manager here.
    await fakeProgram(fakeBin, 'systemctl', `echo "$*" >> '${calls}'`);
    // An empty crontab of its own: status and remove without --kind read cron too.
    await fakeProgram(fakeBin, 'crontab', `[ "$1" = -l ] || exit 9; echo 'no crontab for tester' >&2; exit 1`);
    env = { ...sb.env, PATH: `${fakeBin}:${sb.env.PATH ?? ''}` };
  });
  after(() => sb.cleanup());

  it('cron is refused, naming the kinds that keep it running; --every and --at do not apply (exit 2, nothing installed)', async () => {
    const cron = await runPoof(['schedule', 'install', '--command', 'watch', '--kind', 'cron'], { env });
    assert.equal(cron.code, 2);
    assert.deepEqual(stderrLines(cron.stderr), ['poof: cron starts commands at set times and cannot keep poof watch running; use --kind systemd (a user service, restarted if it fails), or --kind launchd on macOS']);
    const every = await runPoof(['schedule', 'install', '--command', 'watch', '--every', '1h'], { env });
    assert.equal(every.code, 2);
    assert.match(every.stderr, /poof watch runs all the time: --every and --at do not apply/);
    await assert.rejects(access(calls), 'systemctl was never asked');
  });

  it('launchd: a LaunchAgent started at load and kept alive, with no start interval', async () => {
    const printed = await runPoof(['schedule', 'install', '--command', 'watch', '--kind', 'launchd', '--print'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    const file = path.join(sb.dir, 'watch.plist');
    await writeFile(file, printed.stdout);
    const parsed = await sh('python3', ['-c', 'import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1], "rb"))))', file]);
    assert.equal(parsed.code, 0, parsed.stderr);
    const data = JSON.parse(parsed.stdout) as Record<string, unknown> & { ProgramArguments: string[] };
    assert.deepEqual([data.RunAtLoad, data.KeepAlive, data.ThrottleInterval], [true, true, 30]);
    assert.equal(data.ProgramArguments[2], 'watch');
    assert.equal('StartInterval' in data || 'StartCalendarInterval' in data, false);
    assert.match(String(data.Label), /^org\.poof\.backup\.\w+-watch$/);
  });

  it('systemd (the default here): one user service, restarted on failure, enabled and started; its command line runs watch; remove takes it out', async () => {
    const dir = path.join(sb.home, '.config', 'systemd', 'user');
    const installed = await runPoof(['schedule', 'install', '--command', 'watch'], { env });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, /^poof watch, all the time from login: enabled poof-\w+-watch\.service \(systemd user service, kept running\); output goes to \S+schedule\.log$/m);
    const names = await readdir(dir);
    assert.equal(names.length, 1, names.join(', '));
    const unit = await readFile(path.join(dir, names[0]!), 'utf8');
    for (const line of ['Type=simple', 'Restart=on-failure', 'SuccessExitStatus=143', 'WantedBy=default.target']) assert.match(unit, new RegExp(`^${line}$`, 'm'));
    assert.equal((await readFile(calls, 'utf8')).trim().split('\n').at(-1), `--user enable --now ${names[0]}`);
    // The unit's command line, with the unit's environment and nothing else, as systemd starts it.
    const exec = /^ExecStart=(.*)$/m.exec(unit)![1]!.match(/"([^"]*)"/g)!.map((word) => word.slice(1, -1));
    assert.equal(exec.at(-1), 'watch');
    const unitEnv = Object.fromEntries([...unit.matchAll(/^Environment="([^=]+)=(.*)"$/gm)].map((m) => [m[1]!, m[2]!]));
    const child = spawn(exec[0]!, exec.slice(1), { env: { HOME: sb.home, ...unitEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while (!/full backup done/.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /Documents: full backup done/);
    // systemctl stop: SIGTERM, and the exit status the unit counts as a success.
    child.kill('SIGTERM');
    assert.equal(await ended, 143, out);
    // Without --kind, status and remove look at cron (the default for timed schedules here) and
    // systemd (where the watch service went) alike.
    const status = await runPoof(['schedule', 'status'], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^watch service installed \(systemd\):\n\[Unit\]\nDescription=poof watch/m);
    assert.doesNotMatch(status.stdout, /not installed/);
    const removed = await runPoof(['schedule', 'remove'], { env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(removed.stdout.trim().split('\n'), [`removed poof's systemd watch service for ${sb.confdir}`]);
    assert.deepEqual(await readdir(dir), []);
    assert.equal((await readFile(calls, 'utf8')).trim().split('\n').at(-2), `--user disable --now ${names[0]}`);
    const after = await runPoof(['schedule', 'status'], { env });
    assert.match(after.stdout, /^not installed \(cron, systemd\); /);
    assert.match((await runPoof(['schedule', 'remove'], { env })).stdout, /^no schedule of poof's for /);
  });
});
