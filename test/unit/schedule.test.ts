import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { root } from '../helpers/sandbox.js';
import { findCronBlock, nextRun, onCalendar, parseCadence, removeCronBlock, renderCron, renderLaunchd, renderSystemd, shellQuote, type ScheduleSpec } from '../../src/schedule/render.js';

const template = (name: string) => readFileSync(path.join(root, 'templates', 'schedule', name), 'utf8');

// A config dir with every character that each format must escape.
const spec: ScheduleSpec = {
  id: 'abc123',
  command: 'backup',
  cadence: { every: { unit: 'h', count: 6 } },
  node: '/usr/bin/node',
  cli: '/opt/poof/dist/src/cli.js',
  configDir: "/home/jo/My 100% <cfg> & 'x'",
  path: '/usr/bin:/bin',
  log: '/home/jo/.local/state/poof/schedule.log',
};

describe('schedule cadence', () => {
  it('parses --every and --at, refusing what a scheduler cannot express', () => {
    assert.deepEqual(parseCadence('6h', undefined), { every: { unit: 'h', count: 6 } });
    assert.deepEqual(parseCadence('15m', undefined), { every: { unit: 'm', count: 15 } });
    assert.deepEqual(parseCadence(undefined, '02:30'), { at: { hour: 2, minute: 30 } });
    assert.match(parseCadence('7h', undefined) as string, /hours must divide the day/);
    assert.match(parseCadence('7m', undefined) as string, /minutes must divide the hour/);
    assert.match(parseCadence(undefined, '25:00') as string, /24-hour time/);
    assert.match(parseCadence('6h', '02:00') as string, /exactly one/);
    assert.equal(onCalendar({ every: { unit: 'm', count: 30 } }), '*-*-* *:00/30:00');
    assert.equal(onCalendar({ at: { hour: 2, minute: 5 } }), '*-*-* 02:05:00');
  });
  it('says when a cadence fires next', () => {
    const now = new Date(2026, 10, 22, 13, 47, 12);
    assert.deepEqual(nextRun({ every: { unit: 'h', count: 6 } }, now), new Date(2026, 10, 22, 18, 0, 0));
    assert.deepEqual(nextRun({ every: { unit: 'm', count: 15 } }, now), new Date(2026, 10, 22, 14, 0, 0));
    assert.deepEqual(nextRun({ at: { hour: 2, minute: 30 } }, now), new Date(2026, 10, 23, 2, 30, 0));
    assert.deepEqual(nextRun({ at: { hour: 14, minute: 0 } }, now), new Date(2026, 10, 22, 14, 0, 0));
    assert.deepEqual(nextRun({ every: { unit: 'h', count: 24 } }, now), new Date(2026, 10, 23, 0, 0, 0));
  });
});

describe('rendered schedules (snapshots)', () => {
  it('cron: shell-quoted, % escaped as \\%, marked for poof', () => {
    assert.equal(
      renderCron(template('cron.txt'), spec),
      [
        '# poof:begin abc123 (installed by `poof schedule install`; remove with `poof schedule remove`)',
        "0 */6 * * * POOF_CONFIG_DIR='/home/jo/My 100\\% <cfg> & '\\''x'\\''' PATH=/usr/bin:/bin /usr/bin/node /opt/poof/dist/src/cli.js backup >> /home/jo/.local/state/poof/schedule.log 2>&1",
        '# poof:end abc123',
        '',
      ].join('\n'),
    );
    assert.match(renderCron(template('cron.txt'), { ...spec, command: 'upload', cadence: { at: { hour: 3, minute: 7 } } }), /^7 3 \* \* \* .* upload --yes >>/m);
    assert.match(renderCron(template('cron.txt'), { ...spec, command: 'sync', cadence: { every: { count: 15, unit: 'm' } } }), /^\*\/15 \* \* \* \* .*\/cli\.js sync >>/m);
    assert.equal(shellQuote('plain/path-1.2'), 'plain/path-1.2');
  });
  it('systemd: quoted values, % doubled, a persistent calendar timer', () => {
    const units = renderSystemd({ service: template('systemd.service'), timer: template('systemd.timer') }, spec);
    assert.equal(
      units.service,
      [
        '[Unit]',
        "Description=poof backup (/home/jo/My 100%% <cfg> & 'x')",
        '',
        '[Service]',
        'Type=oneshot',
        `Environment="POOF_CONFIG_DIR=/home/jo/My 100%% <cfg> & 'x'"`,
        'Environment="PATH=/usr/bin:/bin"',
        'ExecStart="/usr/bin/node" "/opt/poof/dist/src/cli.js" "backup"',
        'StandardOutput=append:/home/jo/.local/state/poof/schedule.log',
        'StandardError=append:/home/jo/.local/state/poof/schedule.log',
        '',
      ].join('\n'),
    );
    assert.match(units.timer, /^OnCalendar=\*-\*-\* 00\/6:00:00\n.*\nPersistent=true$/m);
  });
  it('launchd: XML entities, absolute program arguments', () => {
    const plist = renderLaunchd(template('launchd.plist'), spec);
    assert.match(plist, /<string>\/home\/jo\/My 100% &lt;cfg&gt; &amp; &apos;x&apos;<\/string>/);
    assert.match(plist, /<key>StartInterval<\/key>\n {2}<integer>21600<\/integer>/);
    assert.match(plist, / {4}<string>\/usr\/bin\/node<\/string>\n {4}<string>\/opt\/poof\/dist\/src\/cli.js<\/string>\n {4}<string>backup<\/string>/);
  });
  it('finds and removes only poof\'s block in a crontab', () => {
    const crontab = `MAILTO=me\n0 1 * * * /usr/bin/mine\n${renderCron(template('cron.txt'), spec)}# poof:begin other (x)\n* * * * * x\n# poof:end other\n`;
    assert.match(findCronBlock(crontab, 'abc123') ?? '', /^# poof:begin abc123[^]*# poof:end abc123$/);
    assert.equal(removeCronBlock(crontab, 'abc123'), 'MAILTO=me\n0 1 * * * /usr/bin/mine\n# poof:begin other (x)\n* * * * * x\n# poof:end other\n');
    assert.equal(findCronBlock('0 1 * * * x\n', 'abc123'), undefined);
  });
});
