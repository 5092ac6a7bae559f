import os from 'node:os';
import path from 'node:path';
import { cliEntry } from '../assets.js';
import type { Context } from '../context.js';
import { shortHash } from '../config/paths.js';
import { loadConfig, readTextIfExists } from '../config/store.js';
import { isEncryptedConf } from '../rclone/conf-crypt.js';
import { formatRunRecord } from '../ui/format.js';
import { ExitCode, UsageError } from '../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { rm } from 'node:fs/promises';
import { readRunRecords } from '../run/history.js';
import { hasScheduler, installSchedule, removeSchedule, renderSchedule, savedSchedule, scheduleFile, showSchedule, type ScheduleFile, type SchedulerEnv } from '../schedule/install.js';
import { nextRun, parseCadence, type ScheduleKind, type ScheduleSpec } from '../schedule/render.js';
import type { OptionsOf, scheduleInstallSpec, scheduleStatusSpec } from './specs.js';

type ScheduleOptions = Partial<OptionsOf<typeof scheduleInstallSpec>> & OptionsOf<typeof scheduleStatusSpec>;

/** The platform's natural scheduler: launchd on macOS, cron elsewhere (systemd with --kind). */
export function defaultKind(platform: NodeJS.Platform): ScheduleKind {
  return platform === 'darwin' ? 'launchd' : 'cron';
}

export async function scheduleInstallCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  const watch = options.command === 'watch';
  if (watch && (options.every !== undefined || options.at !== undefined)) throw new UsageError('poof watch runs all the time: --every and --at do not apply', 'poof schedule install --command watch');
  const cadence = watch ? undefined : parseCadence(options.every, options.at);
  if (typeof cadence === 'string') throw new UsageError(cadence);
  // cron cannot keep a process running: watch is a systemd user service there (launchd on macOS).
  const kind = options.kind ?? (watch && ctx.platform !== 'darwin' ? 'systemd' : defaultKind(ctx.platform));
  if (watch && kind === 'cron') throw new UsageError('cron starts commands at set times and cannot keep poof watch running', 'use --kind systemd (a user service, restarted if it fails), or --kind launchd on macOS');
  checkUnitOption(kind, options, watch);
  await loadConfig(ctx.paths);
  if (kind === 'cron' && isEncryptedConf((await readTextIfExists(ctx.paths.rcloneConf)) ?? '')) {
    throw new UsageError('rclone-poof.conf is encrypted and cron starts jobs outside the login session, where the keychain cannot be reached', 'use --kind systemd (a user timer), or launchd on macOS');
  }
  const rclone = await ctx.locateRclone({ cacheVersion: true });
  const spec: ScheduleSpec = {
    id: watch ? watchId(ctx) : scheduleId(ctx),
    command: options.command ?? 'backup',
    cadence,
    node: process.execPath,
    cli: cliEntry(),
    configDir: ctx.paths.configDir,
    path: [...new Set([path.dirname(rclone.bin), ...(ctx.platform === 'darwin' ? ['/opt/homebrew/bin'] : []), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
    log: path.join(ctx.paths.stateDir, 'schedule.log'),
  };
  const where = schedulerEnv(ctx);
  if (options.print) {
    printSchedule(ctx, renderSchedule(kind, spec, where).files, options.unit);
    return ExitCode.ok;
  }
  await ensurePrivateDir(ctx.paths.stateDir);
  const done = await installSchedule(kind, spec, where);
  if (!cadence) {
    ctx.out(`poof watch, all the time from login: ${done}; output goes to ${spec.log}`);
    return ExitCode.ok;
  }
  await writeFileAtomic(scheduleFile(ctx.paths.stateDir), `${JSON.stringify({ kind, cadence, command: spec.command })}\n`);
  ctx.out(`poof ${spec.command} ${'every' in cadence ? `every ${cadence.every.count}${cadence.every.unit}` : `daily at ${options.at}`}: ${done}; output goes to ${spec.log}`);
  return ExitCode.ok;
}

export async function scheduleRemoveCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  const where = schedulerEnv(ctx);
  let any = false;
  for (const kind of kindsToLookAt(ctx, options)) {
    if (await removeSchedule(kind, scheduleId(ctx), where)) {
      any = true;
      await rm(scheduleFile(ctx.paths.stateDir), { force: true });
      ctx.out(`removed poof's ${kind} schedule for ${ctx.paths.configDir}`);
    }
    // The watch service too (never under cron).
    if (kind !== 'cron' && (await removeSchedule(kind, watchId(ctx), where))) {
      any = true;
      ctx.out(`removed poof's ${kind} watch service for ${ctx.paths.configDir}`);
    }
  }
  if (!any) ctx.out(`no ${options.kind ? `${options.kind} ` : ''}schedule of poof's for ${ctx.paths.configDir}`);
  return ExitCode.ok;
}

export async function scheduleStatusCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  const where = schedulerEnv(ctx);
  let any = false;
  for (const kind of kindsToLookAt(ctx, options)) {
    const entry = await showSchedule(kind, scheduleId(ctx), where);
    if (entry) {
      any = true;
      ctx.out(`installed (${kind}):\n${entry.trimEnd()}`);
      const saved = await savedSchedule(ctx.paths.stateDir);
      if (saved && saved.kind === kind) ctx.out(`next run: ${nextRun(saved.cadence, new Date()).toString()}`);
    }
    const watchEntry = kind === 'cron' ? undefined : await showSchedule(kind, watchId(ctx), where);
    if (watchEntry) {
      any = true;
      ctx.out(`watch service installed (${kind}):\n${watchEntry.trimEnd()}`);
    }
  }
  if (!any) ctx.out(`not installed (${kindsToLookAt(ctx, options).join(', ')}); \`poof schedule install --every 6h\` installs one`);
  const [last] = await readRunRecords(ctx.paths.historyFile, 1);
  ctx.out(last ? `last run: ${formatRunRecord(last)}` : 'last run: none recorded yet');
  return ExitCode.ok;
}

/**
 * The kinds status and remove look at: the one named, or every kind an install here could have
 * used (a watch service is systemd on Linux even where timed schedules are cron). A cron that
 * is not installed holds nothing of poof's, so it is left out unless named.
 */
function kindsToLookAt(ctx: Context, options: ScheduleOptions): ScheduleKind[] {
  if (options.kind) return [options.kind];
  const kinds: ScheduleKind[] = ctx.platform === 'darwin' ? ['launchd', 'cron'] : ['cron', 'systemd'];
  return kinds.filter((kind) => kind !== 'cron' || hasScheduler(kind, schedulerEnv(ctx)));
}

/**
 * systemd needs two files, and `--print > file` must give a valid file, so --print shows one
 * unit at a time; guessing which one would hide half the schedule.
 */
function checkUnitOption(kind: ScheduleKind, options: ScheduleOptions, watch: boolean): void {
  if (options.unit !== undefined && !(kind === 'systemd' && options.print)) throw new UsageError(`--unit applies only to --kind systemd --print`);
  if (watch && options.unit === 'timer') throw new UsageError('poof watch has no timer: it is one service, kept running');
  if (kind === 'systemd' && options.print && options.unit === undefined && !watch) {
    throw new UsageError('--print shows one file: add --unit service|timer to choose the systemd unit');
  }
}

/** Exactly one file's content on stdout, so it can be redirected into that file; where it belongs goes to stderr. */
function printSchedule(ctx: Context, files: ScheduleFile[], unit: 'service' | 'timer' | undefined): void {
  const file = files.find((f) => unit === undefined || f.name === unit);
  if (!file) throw new Error(`no ${unit ?? ''} file to print`);
  const others = files.filter((f) => f !== file && f.path !== undefined).map((f) => `the ${f.name} (--unit ${f.name}) belongs in ${f.path}`);
  const where = file.path ?? (ctx.env.POOF_CRONTAB_USER ? `the crontab of ${ctx.env.POOF_CRONTAB_USER}` : 'your crontab');
  ctx.out(file.content.replace(/\n$/, ''));
  ctx.err(`poof: this belongs in ${where}${others.length > 0 ? `; ${others.join('; ')}` : ''}; nothing was installed`);
}

/** One schedule per config dir. */
function scheduleId(ctx: Context): string {
  return shortHash(ctx.paths.configDir);
}

/** And one watch service beside it. */
function watchId(ctx: Context): string {
  return `${scheduleId(ctx)}-watch`;
}

function schedulerEnv(ctx: Context): SchedulerEnv {
  return { env: ctx.env, home: ctx.home, uid: os.userInfo().uid };
}
