import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { freePort } from '../helpers/servers.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

const BUS = 'unix:path=/nonexistent/poof-test-bus';

/**
 * Failed unattended runs notify the desktop. No desktop exists here, so a `notify-send` on PATH
 * stands in for the notification server: it records each call's argv in a file of its own.
 */
describe('desktop notification of a failed run without a terminal', { skip: process.platform !== 'linux' && 'notify-send is the Linux notifier' }, () => {
  let sb: Sandbox;
  let src: string;
  let confFile: string;
  let calls: string;
  let desktopEnv: Record<string, string>;

  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Documents: { 'a.txt': 'a\n' } });
    src = backup.dirs.Documents!;
    confFile = backup.paths.poofConf!;
    const bin = path.join(sb.dir, 'bin');
    calls = path.join(sb.dir, 'notify-calls');
    await mkdir(bin);
    await mkdir(calls);
    await writeFile(path.join(bin, 'notify-send'), `#!/bin/sh\nprintf '%s\\0' "$@" > "$(mktemp '${calls}/call.XXXXXX')"\n`);
    await chmod(path.join(bin, 'notify-send'), 0o755);
    desktopEnv = { ...sb.env, PATH: `${bin}:${sb.env.PATH}`, DBUS_SESSION_BUS_ADDRESS: BUS };
  });
  after(() => sb.cleanup());
  beforeEach(async () => {
    await rm(calls, { recursive: true, force: true });
    await mkdir(calls);
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    delete conf.notify;
    delete conf.healthcheck;
    await writeFile(confFile, JSON.stringify(conf));
  });

  async function notifications(): Promise<string[][]> {
    const files = await readdir(calls);
    return Promise.all(files.map(async (f) => (await readFile(path.join(calls, f), 'utf8')).split('\0').slice(0, -1)));
  }

  async function setConf(extra: Record<string, unknown>): Promise<void> {
    await writeFile(confFile, JSON.stringify({ ...JSON.parse(await readFile(confFile, 'utf8')), ...extra }));
  }

  /** Runs `body` with the mapped directory gone, as when its disk is not mounted. */
  async function withSourceMissing<T>(body: () => Promise<T>): Promise<T> {
    const away = `${src}.away`;
    await rename(src, away);
    try {
      return await body();
    } finally {
      await rename(away, src);
    }
  }

  it('a backup whose mapped directory is missing notifies with the mapping and exit code, never the healthcheck URL', async () => {
    const url = `http://127.0.0.1:${await freePort()}/ping/secret-token-123`;
    await setConf({ healthcheck: url });
    const result = await withSourceMissing(() => runPoof(['backup'], { env: desktopEnv }));
    assert.equal(result.code, 1, result.stderr);
    const sent = await notifications();
    assert.equal(sent.length, 1, `one notification, got ${JSON.stringify(sent)}`);
    const [args] = sent;
    assert.deepEqual(args!.slice(0, 5), ['--app-name=poof', '--urgency=critical', '--icon=dialog-error', '--', 'poof backup failed (exit 1)']);
    assert.match(args![5]!, /^Documents: refused: the local directory does not exist/);
    assert.equal(args!.length, 6);
    assert.ok(!args!.join(' ').includes('secret-token-123'), 'the ping URL is a secret');
    assert.doesNotMatch(result.stderr, /desktop notification/, 'the stand-in succeeded, so nothing is reported');
  });

  it('a run that cannot start (another run holds the lock) notifies with exit 5 and why', async () => {
    const paths = JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as { lockFile: string; stateDir: string };
    await mkdir(paths.stateDir, { recursive: true });
    await writeFile(paths.lockFile, JSON.stringify({ pid: process.pid, host: os.hostname(), command: 'upload', started: new Date().toISOString() }));
    try {
      const result = await runPoof(['backup'], { env: desktopEnv });
      assert.equal(result.code, 5, result.stderr);
      const sent = await notifications();
      assert.equal(sent.length, 1);
      assert.equal(sent[0]![4], 'poof backup failed (exit 5)');
      assert.match(sent[0]![5]!, new RegExp(`^another poof run holds the lock: pid ${process.pid} \\(upload`));
    } finally {
      await rm(paths.lockFile, { force: true });
    }
  });

  it('a successful run sends none', async () => {
    const result = await runPoof(['backup'], { env: desktopEnv });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await notifications(), []);
  });

  it('"notify": false sends none', async () => {
    await setConf({ notify: false });
    const result = await withSourceMissing(() => runPoof(['backup'], { env: desktopEnv }));
    assert.equal(result.code, 1);
    assert.deepEqual(await notifications(), []);
  });

  it('a run without a desktop session (no DBUS_SESSION_BUS_ADDRESS, DISPLAY or WAYLAND_DISPLAY) sends none', async () => {
    const env = { ...desktopEnv };
    delete env.DBUS_SESSION_BUS_ADDRESS;
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    const result = await withSourceMissing(() => runPoof(['backup'], { env }));
    assert.equal(result.code, 1);
    assert.deepEqual(await notifications(), []);
  });

  it('a dry run sends none', async () => {
    const result = await withSourceMissing(() => runPoof(['backup', '--dry-run'], { env: desktopEnv }));
    assert.equal(result.code, 1);
    assert.deepEqual(await notifications(), []);
  });

  it('a notifier that fails costs one line on stderr, never the run\'s own exit code', async () => {
    const bin = path.join(sb.dir, 'broken-bin');
    await mkdir(bin, { recursive: true });
    await writeFile(path.join(bin, 'notify-send'), '#!/bin/sh\necho "Could not connect: No such file or directory" >&2\nexit 1\n');
    await chmod(path.join(bin, 'notify-send'), 0o755);
    const result = await withSourceMissing(() => runPoof(['backup'], { env: { ...desktopEnv, PATH: `${bin}:${sb.env.PATH}` } }));
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^poof: could not show a desktop notification \(notify-send: Could not connect: No such file or directory\)$/m);
  });
});
