import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../src/run/history.js';
import { describeFailedRun, planNotification, type NotifyInputs } from '../../src/run/notify.js';

const unattended: NotifyInputs = {
  platform: 'linux',
  env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' },
  stdinIsTTY: false,
  stdoutIsTTY: false,
  enabled: true,
  secrets: [],
};
const failed = { command: 'backup', exitCode: 1, summary: 'Documents: failed (rclone exited 3: directory not found)' };

describe('planNotification: when to notify', () => {
  it('a failed run from cron with a desktop session notifies through notify-send', () => {
    const plan = planNotification(unattended, failed);
    assert.deepEqual(plan, {
      title: 'poof backup failed (exit 1)',
      body: 'Documents: failed (rclone exited 3: directory not found)',
      program: 'notify-send',
      args: ['--app-name=poof', '--urgency=critical', '--icon=dialog-error', '--', 'poof backup failed (exit 1)', 'Documents: failed (rclone exited 3: directory not found)'],
    });
  });

  const none: Array<[string, NotifyInputs, number]> = [
    ['the run succeeded', unattended, 0],
    ['"notify": false', { ...unattended, enabled: false }, 1],
    ['a terminal on stdout', { ...unattended, stdoutIsTTY: true }, 1],
    ['a terminal on stdin', { ...unattended, stdinIsTTY: true }, 1],
    ['Linux without a desktop session (cron on a server)', { ...unattended, env: {} }, 1],
    ['Windows', { ...unattended, platform: 'win32' }, 1],
  ];
  for (const [why, inputs, exitCode] of none) {
    it(`none when ${why}`, () => assert.equal(planNotification(inputs, { ...failed, exitCode }), undefined));
  }

  it('DISPLAY or WAYLAND_DISPLAY alone also means a desktop session', () => {
    assert.equal(planNotification({ ...unattended, env: { DISPLAY: ':0' } }, failed)?.program, 'notify-send');
    assert.equal(planNotification({ ...unattended, env: { WAYLAND_DISPLAY: 'wayland-0' } }, failed)?.program, 'notify-send');
  });
});

describe('planNotification: what it shows', () => {
  it('macOS: osascript gets the texts as arguments, never inside the script', () => {
    const summary = 'Docs "x" end tell: failed';
    const plan = planNotification({ ...unattended, platform: 'darwin', env: {} }, { ...failed, summary });
    assert.equal(plan?.program, 'osascript');
    const script = plan!.args.filter((_arg, i, all) => all[i - 1] === '-e');
    assert.deepEqual(script, ['on run argv', 'display notification (item 2 of argv) with title (item 1 of argv)', 'end run']);
    assert.deepEqual(plan!.args.slice(-2), ['poof backup failed (exit 1)', summary]);
  });

  it('hides the healthcheck URL and other secrets', () => {
    const url = 'https://hc-ping.com/0f3e-secret-uuid';
    const plan = planNotification({ ...unattended, secrets: [url, 'hunter22'] }, { ...failed, summary: `ping ${url}/fail failed; password hunter22` });
    assert.equal(plan?.body, 'ping (hidden)/fail failed; password (hidden)');
  });

  it('keeps the body short and never empty', () => {
    assert.equal(planNotification(unattended, { ...failed, summary: 'x'.repeat(1000) })?.body.length, 300);
    assert.equal(planNotification(unattended, { ...failed, exitCode: 5, summary: ' ' })?.body, 'poof backup exited 5; see the log');
  });
});

describe('describeFailedRun', () => {
  const mapping = { copied: 0, deleted: 0, bytes: 0, errors: 0, durationMs: 0 };
  const record: RunRecord = {
    command: 'upload',
    started: '2026-11-25T08:00:00.000Z',
    ended: '2026-11-25T08:01:00.000Z',
    status: 'interrupted',
    exitCode: 143,
    dryRun: false,
    mappings: [
      { ...mapping, name: 'Docs', status: 'ok' },
      { ...mapping, name: 'Pics', status: 'refused', reason: 'the local directory does not exist' },
      { ...mapping, name: 'Music', status: 'not run' },
    ],
  };
  it('names each mapping that did not finish and why, and an interruption', () => {
    assert.equal(describeFailedRun(record), 'interrupted\nPics: refused: the local directory does not exist\nMusic: not run');
  });
});
