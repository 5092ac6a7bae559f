import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readTemplate } from '../assets.js';
import { RunFailedError } from '../errors.js';
import { spawnProgram } from '../rclone/spawn.js';
import { findCronBlock, launchdLabel, removeCronBlock, renderCron, renderLaunchd, renderSystemd, type ScheduleKind, type ScheduleSpec } from './render.js';

export interface SchedulerEnv {
  env: Record<string, string | undefined>;
  home: string;
  uid: number;
}

/** What would be written where, for --print and for install. */
export interface RenderedSchedule {
  files: Array<{ path: string; content: string }>;
}

export function renderSchedule(kind: ScheduleKind, spec: ScheduleSpec, where: SchedulerEnv): RenderedSchedule {
  if (kind === 'cron') return { files: [{ path: 'crontab', content: renderCron(readTemplate('schedule/cron.txt'), spec) }] };
  if (kind === 'systemd') {
    const units = renderSystemd({ service: readTemplate('schedule/systemd.service'), timer: readTemplate('schedule/systemd.timer') }, spec);
    const dir = systemdDir(where);
    return {
      files: [
        { path: path.join(dir, `poof-${spec.id}.service`), content: units.service },
        { path: path.join(dir, `poof-${spec.id}.timer`), content: units.timer },
      ],
    };
  }
  return { files: [{ path: plistPath(where, spec.id), content: renderLaunchd(readTemplate('schedule/launchd.plist'), spec) }] };
}

export async function installSchedule(kind: ScheduleKind, spec: ScheduleSpec, where: SchedulerEnv): Promise<string> {
  const rendered = renderSchedule(kind, spec, where);
  if (kind === 'cron') {
    const current = await readCrontab(where);
    const rest = removeCronBlock(current, spec.id).replace(/\n*$/, '');
    await writeCrontab(where, `${rest === '' ? '' : `${rest}\n`}${rendered.files[0]?.content ?? ''}\n`);
    return 'installed in the crontab';
  }
  for (const file of rendered.files) {
    await mkdir(path.dirname(file.path), { recursive: true });
    await writeFile(file.path, file.content);
  }
  if (kind === 'systemd') {
    await run(where, 'systemctl', ['--user', 'daemon-reload']);
    await run(where, 'systemctl', ['--user', 'enable', '--now', `poof-${spec.id}.timer`]);
    return `enabled poof-${spec.id}.timer (systemd user timer)`;
  }
  const plist = rendered.files[0]?.path ?? '';
  await run(where, 'launchctl', ['bootout', `gui/${where.uid}/${launchdLabel(spec.id)}`]).catch(() => undefined);
  await run(where, 'launchctl', ['bootstrap', `gui/${where.uid}`, plist]);
  return `loaded ${launchdLabel(spec.id)} (LaunchAgent)`;
}

export async function removeSchedule(kind: ScheduleKind, id: string, where: SchedulerEnv): Promise<boolean> {
  if (kind === 'cron') {
    const current = await readCrontab(where);
    if (!findCronBlock(current, id)) return false;
    await writeCrontab(where, `${removeCronBlock(current, id).replace(/\n*$/, '')}\n`);
    return true;
  }
  if (kind === 'systemd') {
    const timer = path.join(systemdDir(where), `poof-${id}.timer`);
    if (!(await exists(timer))) return false;
    await run(where, 'systemctl', ['--user', 'disable', '--now', `poof-${id}.timer`]).catch(() => undefined);
    await rm(timer, { force: true });
    await rm(path.join(systemdDir(where), `poof-${id}.service`), { force: true });
    await run(where, 'systemctl', ['--user', 'daemon-reload']).catch(() => undefined);
    return true;
  }
  const plist = plistPath(where, id);
  if (!(await exists(plist))) return false;
  await run(where, 'launchctl', ['bootout', `gui/${where.uid}/${launchdLabel(id)}`]).catch(() => undefined);
  await rm(plist, { force: true });
  return true;
}

/** The installed entry, as text, or undefined. */
export async function showSchedule(kind: ScheduleKind, id: string, where: SchedulerEnv): Promise<string | undefined> {
  if (kind === 'cron') return findCronBlock(await readCrontab(where), id);
  const file = kind === 'systemd' ? path.join(systemdDir(where), `poof-${id}.timer`) : plistPath(where, id);
  return readFile(file, 'utf8').catch(() => undefined);
}

/** crontab for the current user, or for POOF_CRONTAB_USER (an administrator installing for someone). */
function crontabArgs(where: SchedulerEnv, args: string[]): string[] {
  const user = where.env.POOF_CRONTAB_USER;
  return user ? ['-u', user, ...args] : args;
}

async function readCrontab(where: SchedulerEnv): Promise<string> {
  const result = await spawnProgram('crontab', crontabArgs(where, ['-l']), { env: cleanEnv(where.env), timeoutMs: 20_000 });
  if (result.exitCode === 0) return result.stdout;
  if (/no crontab/i.test(result.stderr)) return '';
  throw new RunFailedError(`crontab -l failed (exit ${result.exitCode}): ${result.stderr.trim() || 'is cron installed?'}`);
}

async function writeCrontab(where: SchedulerEnv, text: string): Promise<void> {
  const result = await spawnProgram('crontab', crontabArgs(where, ['-']), { env: cleanEnv(where.env), input: text, timeoutMs: 20_000 });
  if (result.exitCode !== 0) throw new RunFailedError(`crontab - failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
}

async function run(where: SchedulerEnv, cmd: string, args: string[]): Promise<void> {
  const result = await spawnProgram(cmd, args, { env: cleanEnv(where.env), timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new RunFailedError(`${cmd} ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim()}`);
}

function systemdDir(where: SchedulerEnv): string {
  return path.join(where.env.XDG_CONFIG_HOME || path.join(where.home, '.config'), 'systemd', 'user');
}

function plistPath(where: SchedulerEnv, id: string): string {
  return path.join(where.home, 'Library', 'LaunchAgents', `${launchdLabel(id)}.plist`);
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

const exists = (file: string) => readFile(file).then(() => true, () => false);
