import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from '../context.js';
import { shortHash } from '../config/paths.js';
import { loadConfig } from '../config/store.js';
import { formatRunRecord } from './status.js';
import { ExitCode, UsageError } from '../errors.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import { readFile, rm } from 'node:fs/promises';
import { locateRclone } from '../rclone/runner.js';
import { readRunRecords } from '../run/history.js';
import { installSchedule, removeSchedule, renderSchedule, showSchedule, type SchedulerEnv } from '../schedule/install.js';
import { nextRun, parseCadence, type Cadence, type ScheduleKind, type ScheduleSpec } from '../schedule/render.js';

interface ScheduleOptions {
  kind?: ScheduleKind;
  every?: string;
  at?: string;
  command?: 'backup' | 'upload';
  print?: boolean;
}

/** The platform's natural scheduler: launchd on macOS, cron elsewhere (systemd with --kind). */
export function defaultKind(platform: NodeJS.Platform): ScheduleKind {
  return platform === 'darwin' ? 'launchd' : 'cron';
}

export async function scheduleInstallCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  await loadConfig(ctx.paths);
  const cadence = parseCadence(options.every, options.at);
  if (typeof cadence === 'string') throw new UsageError(cadence);
  const kind = options.kind ?? defaultKind(ctx.platform);
  const rclone = await locateRclone({ env: ctx.env, cacheFile: ctx.paths.rcloneVersionCache });
  const spec: ScheduleSpec = {
    id: scheduleId(ctx),
    command: options.command ?? 'backup',
    cadence,
    node: process.execPath,
    cli: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js'),
    configDir: ctx.paths.configDir,
    path: [...new Set([path.dirname(rclone.bin), ...(ctx.platform === 'darwin' ? ['/opt/homebrew/bin'] : []), '/usr/local/bin', '/usr/bin', '/bin'])].join(':'),
    log: path.join(ctx.paths.stateDir, 'schedule.log'),
  };
  const where = schedulerEnv(ctx);
  if (options.print) {
    for (const file of renderSchedule(kind, spec, where).files) ctx.out(`# ${file.path}\n${file.content}`);
    return ExitCode.ok;
  }
  await ensurePrivateDir(ctx.paths.stateDir);
  const done = await installSchedule(kind, spec, where);
  await writeFileAtomic(scheduleFile(ctx), `${JSON.stringify({ kind, cadence, command: spec.command })}\n`);
  ctx.out(`poof ${spec.command} ${'every' in cadence ? `every ${cadence.every.count}${cadence.every.unit}` : `daily at ${options.at}`}: ${done}; output goes to ${spec.log}`);
  return ExitCode.ok;
}

export async function scheduleRemoveCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  const kind = options.kind ?? defaultKind(ctx.platform);
  const removed = await removeSchedule(kind, scheduleId(ctx), schedulerEnv(ctx));
  if (removed) await rm(scheduleFile(ctx), { force: true });
  ctx.out(removed ? `removed poof's ${kind} schedule for ${ctx.paths.configDir}` : `no ${kind} schedule of poof's for ${ctx.paths.configDir}`);
  return ExitCode.ok;
}

export async function scheduleStatusCommand(ctx: Context, options: ScheduleOptions): Promise<number> {
  const kind = options.kind ?? defaultKind(ctx.platform);
  const entry = await showSchedule(kind, scheduleId(ctx), schedulerEnv(ctx));
  ctx.out(entry ? `installed (${kind}):\n${entry.trimEnd()}` : `not installed (${kind}); \`poof schedule install --every 6h\` installs one`);
  const saved = entry ? await readSaved(ctx) : undefined;
  if (saved && saved.kind === kind) ctx.out(`next run: ${nextRun(saved.cadence, new Date()).toString()}`);
  const [last] = await readRunRecords(ctx.paths.historyFile, 1);
  ctx.out(last ? `last run: ${formatRunRecord(last)}` : 'last run: none recorded yet');
  return ExitCode.ok;
}

function scheduleFile(ctx: Context): string {
  return path.join(ctx.paths.stateDir, 'schedule.json');
}

async function readSaved(ctx: Context): Promise<{ kind: ScheduleKind; cadence: Cadence } | undefined> {
  try {
    return JSON.parse(await readFile(scheduleFile(ctx), 'utf8')) as { kind: ScheduleKind; cadence: Cadence };
  } catch {
    return undefined;
  }
}

/** One schedule per config dir. */
function scheduleId(ctx: Context): string {
  return shortHash(ctx.paths.configDir);
}

function schedulerEnv(ctx: Context): SchedulerEnv {
  return { env: ctx.env, home: ctx.home, uid: os.userInfo().uid };
}
