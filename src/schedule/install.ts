import { isExecutable } from '../fs/probe.js';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readTemplate } from '../assets.js';
import { RunFailedError, UsageError } from '../errors.js';
import { runProgram } from '../process/run.js';
import { findOnPath } from '../rclone/version.js';
import { findCronBlock, launchdLabel, removeCronBlock, renderCron, renderLaunchd, renderSystemd, renderSystemdWatch, type Cadence, type ScheduleKind, type ScheduleSpec } from './render.js';

/** Where poof notes the schedule it installed for a config dir (its state dir). */
export function scheduleFile(stateDir: string): string {
  return path.join(stateDir, 'schedule.json');
}

/** The schedule poof installed for this config dir, as it noted it. */
export async function savedSchedule(stateDir: string): Promise<{ kind: ScheduleKind; cadence: Cadence } | undefined> {
  try {
    return JSON.parse(await readFile(scheduleFile(stateDir), 'utf8')) as { kind: ScheduleKind; cadence: Cadence };
  } catch {
    return undefined;
  }
}

export interface SchedulerEnv {
  env: Record<string, string | undefined>;
  home: string;
  uid: number;
}

/** One file a schedule consists of; cron's entry lives in the crontab, which has no path of ours. */
export interface ScheduleFile {
  name: 'crontab' | 'plist' | 'service' | 'timer';
  path: string | undefined;
  content: string;
}

/** What would be written where, for --print and for install. */
export interface RenderedSchedule {
  files: ScheduleFile[];
}

export function renderSchedule(kind: ScheduleKind, spec: ScheduleSpec, where: SchedulerEnv): RenderedSchedule {
  if (spec.command === 'watch') {
    // Kept running by the scheduler, never timed: a service of its own (cron cannot keep one alive).
    if (kind === 'systemd') return { files: [{ name: 'service', path: path.join(systemdDir(where), `poof-${spec.id}.service`), content: renderSystemdWatch(readTemplate('schedule/systemd-watch.service'), spec) }] };
    if (kind === 'launchd') return { files: [{ name: 'plist', path: plistPath(where, spec.id), content: renderLaunchd(readTemplate('schedule/launchd-watch.plist'), spec) }] };
    throw new UsageError('cron starts commands at set times and cannot keep poof watch running', 'use --kind systemd (a user service) or --kind launchd on macOS');
  }
  if (kind === 'cron') return { files: [{ name: 'crontab', path: undefined, content: renderCron(readTemplate('schedule/cron.txt'), spec) }] };
  if (kind === 'systemd') {
    const units = renderSystemd({ service: readTemplate('schedule/systemd.service'), timer: readTemplate('schedule/systemd.timer') }, spec);
    const dir = systemdDir(where);
    return {
      files: [
        { name: 'service', path: path.join(dir, `poof-${spec.id}.service`), content: units.service },
        { name: 'timer', path: path.join(dir, `poof-${spec.id}.timer`), content: units.timer },
      ],
    };
  }
  return { files: [{ name: 'plist', path: plistPath(where, spec.id), content: renderLaunchd(readTemplate('schedule/launchd.plist'), spec) }] };
}

const SCHEDULER_PROGRAM: Record<ScheduleKind, { bin: string; missing: string; hint: string }> = {
  cron: {
    bin: 'crontab',
    missing: 'crontab is not installed',
    hint: 'install cron (Debian/Ubuntu: sudo apt-get install cron) or pick another kind with --kind systemd (or --kind launchd on macOS)',
  },
  systemd: { bin: 'systemctl', missing: 'systemctl is not installed: this system does not run systemd', hint: 'pick another kind with --kind cron' },
  launchd: { bin: 'launchctl', missing: 'launchctl is not installed: launchd schedules need macOS', hint: 'pick another kind with --kind cron or --kind systemd' },
};

/**
 * Checked before anything is written, so a missing scheduler leaves nothing behind, and named
 * in one line instead of node's `spawn crontab ENOENT`. The fix is another --kind or installing
 * the program, so it is a usage error (exit 2).
 */
export function requireScheduler(kind: ScheduleKind, where: SchedulerEnv): void {
  const program = SCHEDULER_PROGRAM[kind];
  if (!hasScheduler(kind, where)) throw new UsageError(program.missing, program.hint);
}

/** Whether the scheduler's program is on PATH. */
export function hasScheduler(kind: ScheduleKind, where: SchedulerEnv): boolean {
  return Boolean(findOnPath(SCHEDULER_PROGRAM[kind].bin, where.env.PATH, isExecutable));
}

export async function installSchedule(kind: ScheduleKind, spec: ScheduleSpec, where: SchedulerEnv): Promise<string> {
  requireScheduler(kind, where);
  const rendered = renderSchedule(kind, spec, where);
  if (kind === 'cron') {
    // One `crontab -` replaces the whole table, and crontab keeps the old table when it refuses
    // the new one: there is no half-installed state to undo.
    const current = await readCrontab(where);
    const rest = removeCronBlock(current, spec.id).replace(/\n*$/, '');
    await writeCrontab(where, `${rest === '' ? '' : `${rest}\n`}${rendered.files[0]?.content ?? ''}\n`);
    return 'installed in the crontab';
  }
  const previous = await readPrevious(rendered.files);
  const createdDirs: string[] = [];
  try {
    for (const file of rendered.files) {
      if (file.path === undefined) continue;
      const created = await mkdir(path.dirname(file.path), { recursive: true });
      if (created !== undefined) createdDirs.push(...dirsBetween(created, path.dirname(file.path)));
      await writeFile(file.path, file.content);
    }
    if (kind === 'systemd') {
      const unit = systemdUnit(spec.id, rendered.files);
      await run(where, 'systemctl', ['--user', 'daemon-reload']);
      await run(where, 'systemctl', ['--user', 'enable', '--now', unit]);
      return `enabled ${unit} (systemd user ${unit.endsWith('.timer') ? 'timer' : 'service, kept running'})`;
    }
    const plist = rendered.files[0]?.path ?? '';
    await run(where, 'launchctl', ['bootout', `gui/${where.uid}/${launchdLabel(spec.id)}`]).catch(() => undefined);
    await run(where, 'launchctl', ['bootstrap', `gui/${where.uid}`, plist]);
    return `loaded ${launchdLabel(spec.id)} (LaunchAgent)`;
  } catch (error) {
    const undone = await undoInstall(kind, spec.id, { previous, createdDirs, unit: systemdUnit(spec.id, rendered.files) }, where);
    const message = error instanceof Error ? error.message : String(error);
    const noUserBus = kind === 'systemd' && /connect to bus/i.test(message);
    throw new RunFailedError(message, noUserBus ? `${undone}; ${NO_USER_BUS_HINT}` : undone);
  }
}

const NO_USER_BUS_HINT = 'without a systemd user instance (e.g. in a container, or over ssh without `loginctl enable-linger`) use --kind cron';

/** A file's content before install, or undefined when install creates it. */
interface PreviousFile {
  path: string;
  content: string | undefined;
}

async function readPrevious(files: ScheduleFile[]): Promise<PreviousFile[]> {
  const previous: PreviousFile[] = [];
  for (const file of files) {
    if (file.path !== undefined) previous.push({ path: file.path, content: await readFile(file.path, 'utf8').catch(() => undefined) });
  }
  return previous;
}

/**
 * After a failed install, put the files back as they were (a reinstall keeps the schedule that
 * was working) and tell the scheduler, so `schedule status` never reports a schedule that is not
 * running. Returns what the user should know, as one clause.
 */
async function undoInstall(kind: ScheduleKind, id: string, written: { previous: PreviousFile[]; createdDirs: string[]; unit: string }, where: SchedulerEnv): Promise<string> {
  const { previous, createdDirs } = written;
  const hadSchedule = previous.some((file) => file.content !== undefined);
  // `enable --now` may have enabled the unit before starting it failed.
  if (kind === 'systemd' && !hadSchedule) await run(where, 'systemctl', ['--user', 'disable', '--now', written.unit]).catch(() => undefined);
  const left: string[] = [];
  for (const file of previous) {
    try {
      if (file.content === undefined) await rm(file.path, { force: true });
      else await writeFile(file.path, file.content);
    } catch {
      left.push(file.path);
    }
  }
  // Deepest first; rmdir refuses a directory that something else has put a file in meanwhile.
  for (const dir of [...createdDirs].reverse()) await rmdir(dir).catch(() => undefined);
  if (kind === 'systemd') await run(where, 'systemctl', ['--user', 'daemon-reload']).catch(() => undefined);
  if (kind === 'launchd' && hadSchedule) {
    await run(where, 'launchctl', ['bootstrap', `gui/${where.uid}`, plistPath(where, id)]).catch(() => undefined);
  }
  if (left.length > 0) return `could not undo the change to ${left.join(' and ')}: \`poof schedule remove --kind ${kind}\` removes what is left`;
  return hadSchedule ? 'the schedule installed before was put back' : `poof removed the ${kind === 'systemd' ? 'unit files' : 'plist'} it wrote; nothing is installed`;
}

export async function removeSchedule(kind: ScheduleKind, id: string, where: SchedulerEnv): Promise<boolean> {
  if (kind === 'cron') {
    requireScheduler(kind, where);
    const current = await readCrontab(where);
    if (!findCronBlock(current, id)) return false;
    await writeCrontab(where, `${removeCronBlock(current, id).replace(/\n*$/, '')}\n`);
    return true;
  }
  if (kind === 'systemd') {
    const timer = path.join(systemdDir(where), `poof-${id}.timer`);
    const service = path.join(systemdDir(where), `poof-${id}.service`);
    // A timed schedule is its timer; a kept-running one (watch) its service alone.
    const unit = (await exists(timer)) ? `poof-${id}.timer` : (await exists(service)) ? `poof-${id}.service` : undefined;
    if (!unit) return false;
    await run(where, 'systemctl', ['--user', 'disable', '--now', unit]).catch(() => undefined);
    await rm(timer, { force: true });
    await rm(service, { force: true });
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
  if (kind === 'cron') {
    requireScheduler(kind, where);
    return findCronBlock(await readCrontab(where), id);
  }
  if (kind === 'systemd') {
    const timer = await readFile(path.join(systemdDir(where), `poof-${id}.timer`), 'utf8').catch(() => undefined);
    return timer ?? readFile(path.join(systemdDir(where), `poof-${id}.service`), 'utf8').catch(() => undefined);
  }
  return readFile(plistPath(where, id), 'utf8').catch(() => undefined);
}

/** crontab for the current user, or for POOF_CRONTAB_USER (an administrator installing for someone). */
function crontabArgs(where: SchedulerEnv, args: string[]): string[] {
  const user = where.env.POOF_CRONTAB_USER;
  return user ? ['-u', user, ...args] : args;
}

async function readCrontab(where: SchedulerEnv): Promise<string> {
  const result = await runProgram('crontab', crontabArgs(where, ['-l']), { env: cleanEnv(where.env), timeoutMs: 20_000 });
  if (result.exitCode === 0) return result.stdout;
  if (/no crontab/i.test(result.stderr)) return '';
  throw new RunFailedError(`crontab -l failed (exit ${result.exitCode}): ${oneLine(result.stderr) || 'no message'}`);
}

async function writeCrontab(where: SchedulerEnv, text: string): Promise<void> {
  const result = await runProgram('crontab', crontabArgs(where, ['-']), { env: cleanEnv(where.env), input: text, timeoutMs: 20_000 });
  if (result.exitCode !== 0) throw new RunFailedError(`crontab - failed (exit ${result.exitCode}): ${oneLine(result.stderr) || 'no message'}`);
}

async function run(where: SchedulerEnv, cmd: string, args: string[]): Promise<void> {
  const result = await runProgram(cmd, args, { env: cleanEnv(where.env), timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw new RunFailedError(`${cmd} ${args.join(' ')} failed (exit ${result.exitCode}): ${oneLine(result.stderr) || 'no message'}`);
}

/** A program's stderr as one line of a user error. */
function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');
}

/** `top` and each directory below it down to `bottom`, top first. */
function dirsBetween(top: string, bottom: string): string[] {
  const dirs = [bottom];
  while (dirs[0] !== top && path.dirname(dirs[0]!) !== dirs[0]) dirs.unshift(path.dirname(dirs[0]!));
  return dirs;
}

/** Pure: the unit systemd enables: the timer of a timed schedule, else the service (watch). */
function systemdUnit(id: string, files: ScheduleFile[]): string {
  return files.some((file) => file.name === 'timer') ? `poof-${id}.timer` : `poof-${id}.service`;
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
