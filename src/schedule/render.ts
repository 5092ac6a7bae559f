import { renderTemplate } from '../render-template.js';

export type ScheduleKind = 'launchd' | 'systemd' | 'cron';
export type Cadence = { every: { unit: 'm' | 'h'; count: number } } | { at: { hour: number; minute: number } };

/** Everything a scheduled run needs, with absolute paths: schedulers start with almost no environment. */
export interface ScheduleSpec {
  /** Short id of the config dir, so two configs get two schedules. */
  id: string;
  command: 'backup' | 'upload' | 'check' | 'sync' | 'watch';
  /** When it runs; `watch` has none: it runs all the time, kept alive by the scheduler. */
  cadence?: Cadence | undefined;
  node: string;
  cli: string;
  configDir: string;
  /** PATH for the run: where rclone is, then the system's usual places. */
  path: string;
  log: string;
}

/** Pure: "--every 6h", "--every 30m" or "--at 02:30", or an error message naming the fix. */
export function parseCadence(every: string | undefined, at: string | undefined): Cadence | string {
  if ((every === undefined) === (at === undefined)) return 'give exactly one of --every (e.g. 6h, 30m) or --at (e.g. 02:30)';
  if (every !== undefined) {
    const match = /^(\d+)([mh])$/.exec(every.trim());
    const count = Number(match?.[1]);
    const unit = match?.[2] as 'm' | 'h' | undefined;
    if (!match || !unit) return `--every "${every}": use minutes or hours, e.g. 30m or 6h`;
    if (unit === 'm' && (count < 5 || count > 59 || 60 % count !== 0)) return `--every ${every}: minutes must divide the hour (5m, 10m, 15m, 20m, 30m)`;
    if (unit === 'h' && (count < 1 || count > 24 || 24 % count !== 0)) return `--every ${every}: hours must divide the day (1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h)`;
    return { every: { unit, count } };
  }
  const match = /^(\d{1,2}):(\d{2})$/.exec((at ?? '').trim());
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (!match || hour > 23 || minute > 59) return `--at "${at}": use a 24-hour time, e.g. 02:30`;
  return { at: { hour, minute } };
}

/** The poof command line a schedule runs: never prompts (upload gets --yes, chosen at install). */
export function commandArgs(spec: ScheduleSpec): string[] {
  return [spec.node, spec.cli, spec.command, ...(spec.command === 'upload' ? ['--yes'] : [])];
}

/** Pure: a POSIX shell word. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Pure: the crontab block, marked so poof finds its own entry. `%` means newline to cron: escaped. */
export function renderCron(template: string, spec: ScheduleSpec): string {
  const c = cadenceOf(spec);
  const when = 'every' in c ? (c.every.unit === 'm' ? `*/${c.every.count} * * * *` : c.every.count === 24 ? '0 0 * * *' : `0 */${c.every.count} * * *`) : `${c.at.minute} ${c.at.hour} * * *`;
  const env = [`POOF_CONFIG_DIR=${shellQuote(spec.configDir)}`, `PATH=${shellQuote(spec.path)}`];
  const line = [...env, ...commandArgs(spec).map(shellQuote), '>>', shellQuote(spec.log), '2>&1'].join(' ');
  return renderTemplate(template, { id: spec.id, when, line }, (value, name) => (name === 'line' ? value.replace(/%/g, '\\%') : value));
}

/** Pure: systemd's OnCalendar for a cadence. */
export function onCalendar(cadence: Cadence): string {
  if ('at' in cadence) return `*-*-* ${pad(cadence.at.hour)}:${pad(cadence.at.minute)}:00`;
  return cadence.every.unit === 'm' ? `*-*-* *:00/${cadence.every.count}:00` : `*-*-* 00/${cadence.every.count}:00:00`;
}

/** Pure: a systemd unit value: quoted, with `%` (specifiers) doubled and quotes and backslashes escaped. */
export function systemdQuote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%')}"`;
}

/** Pure: the user service and timer. Persistent=true catches up a run missed during sleep. */
export function renderSystemd(templates: { service: string; timer: string }, spec: ScheduleSpec): { service: string; timer: string } {
  const vars = {
    command: spec.command,
    config_dir: spec.configDir.replace(/%/g, '%%'),
    env_config: systemdQuote(`POOF_CONFIG_DIR=${spec.configDir}`),
    env_path: systemdQuote(`PATH=${spec.path}`),
    exec: commandArgs(spec).map(systemdQuote).join(' '),
    log: spec.log.replace(/%/g, '%%'),
    on_calendar: spec.cadence ? onCalendar(spec.cadence) : '',
  };
  return { service: renderTemplate(templates.service, vars), timer: renderTemplate(templates.timer, vars) };
}

/** Pure: a timed schedule's cadence (watch has none, and is never rendered as a timer). */
function cadenceOf(spec: ScheduleSpec): Cadence {
  if (!spec.cadence) throw new Error(`poof ${spec.command} runs all the time: it has no cadence`);
  return spec.cadence;
}

/** Pure: the user service that keeps `poof watch` running (no timer). */
export function renderSystemdWatch(template: string, spec: ScheduleSpec): string {
  return renderSystemd({ service: template, timer: '' }, spec).service;
}

/** Pure: XML character escaping for plist strings. */
export function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Pure: the LaunchAgent plist. */
export function renderLaunchd(template: string, spec: ScheduleSpec): string {
  const c = spec.cadence;
  const when = !c
    ? ''
    : 'every' in c
      ? `  <key>StartInterval</key>\n  <integer>${c.every.count * (c.every.unit === 'm' ? 60 : 3600)}</integer>`
      : `  <key>StartCalendarInterval</key>\n  <dict>\n    <key>Hour</key>\n    <integer>${c.at.hour}</integer>\n    <key>Minute</key>\n    <integer>${c.at.minute}</integer>\n  </dict>`;
  const programArguments = commandArgs(spec).map((arg) => `    <string>${xmlEscape(arg)}</string>`).join('\n');
  const raw = new Set(['when', 'program_arguments']);
  return renderTemplate(
    template,
    { label: launchdLabel(spec.id), program_arguments: programArguments, config_dir: spec.configDir, path: spec.path, when, log: spec.log },
    (value, name) => (raw.has(name) ? value : xmlEscape(value)),
  );
}

export function launchdLabel(id: string): string {
  return `org.poof.backup.${id}`;
}

/** Pure: the crontab without poof's block for this id (other entries untouched). */
export function removeCronBlock(crontab: string, id: string): string {
  const lines = crontab.split('\n');
  const out: string[] = [];
  let inside = false;
  for (const line of lines) {
    if (line.startsWith(`# poof:begin ${id}`)) inside = true;
    else if (line.startsWith(`# poof:end ${id}`)) inside = false;
    else if (!inside) out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

/** Pure: poof's block for this id in a crontab, if installed. */
export function findCronBlock(crontab: string, id: string): string | undefined {
  const start = crontab.indexOf(`# poof:begin ${id}`);
  if (start < 0) return undefined;
  const end = crontab.indexOf(`# poof:end ${id}`, start);
  return end < 0 ? undefined : crontab.slice(start, crontab.indexOf('\n', end) < 0 ? undefined : crontab.indexOf('\n', end));
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Pure: when a cadence next fires after `now` (local time, as the schedulers count). */
export function nextRun(cadence: Cadence, now: Date): Date {
  const next = new Date(now.getTime());
  next.setSeconds(0, 0);
  if ('at' in cadence) {
    next.setHours(cadence.at.hour, cadence.at.minute);
    if (next.getTime() <= now.getTime()) next.setDate(next.getDate() + 1);
    return next;
  }
  const { unit, count } = cadence.every;
  if (unit === 'm') {
    next.setMinutes(Math.floor(next.getMinutes() / count) * count + count);
    return next;
  }
  next.setMinutes(0);
  next.setHours(Math.floor(next.getHours() / count) * count + count);
  return next;
}
