import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { runProgram } from '../process/run.js';
import type { RunRecord } from './history.js';

/** A desktop that does not answer must not hold up a scheduled run. */
const NOTIFY_TIMEOUT_MS = 5_000;
/** Notification servers cut long bodies anyway; the log has the rest. */
const BODY_LIMIT = 300;
/** Variables holding secrets: their values are kept off the screen and out of the notifier. */
const SECRET_VARS = ['POOF_SECRET', 'POOF_CRYPT_PASSPHRASE', 'RCLONE_CONFIG_PASS'];

/**
 * Passing the texts as arguments of the run handler keeps them data: a quote in a mapping name
 * cannot end a string and run as AppleScript.
 */
const APPLESCRIPT = ['on run argv', 'display notification (item 2 of argv) with title (item 1 of argv)', 'end run'];

export interface FailureNotice {
  command: string;
  exitCode: number;
  /** What went wrong, e.g. the mappings that failed and why. */
  summary: string;
}

export interface NotifyInputs {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  /** A terminal on either side means someone is watching the run and has seen the result. */
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  /** `"notify"` in poof.conf; on unless set to false. */
  enabled: boolean;
  /** Texts that must never reach the screen: the healthcheck URL carries a secret token. */
  secrets: string[];
}

export interface NotificationPlan {
  title: string;
  body: string;
  program: string;
  args: string[];
}

/**
 * Pure: the desktop notification for a failed run, or undefined when there is none to show:
 * the run succeeded, someone watched it on a terminal, notifications are off, or no desktop
 * session is there to show one (cron on a Linux server).
 */
export function planNotification(inputs: NotifyInputs, notice: FailureNotice): NotificationPlan | undefined {
  if (notice.exitCode === 0 || !inputs.enabled || inputs.stdinIsTTY || inputs.stdoutIsTTY) return undefined;
  const title = `poof ${notice.command} failed (exit ${notice.exitCode})`;
  const body = clip(redact(notice.summary.trim() || `poof ${notice.command} exited ${notice.exitCode}; see the log`, inputs.secrets));
  if (inputs.platform === 'darwin') {
    return { title, body, program: 'osascript', args: [...APPLESCRIPT.flatMap((line) => ['-e', line]), title, body] };
  }
  if (inputs.platform === 'win32' || !hasDesktopSession(inputs.env)) return undefined;
  // "--": a body that starts with "-" (a mapping named "-old") is text, not an option.
  return { title, body, program: 'notify-send', args: ['--app-name=poof', '--urgency=critical', '--icon=dialog-error', '--', title, body] };
}

function hasDesktopSession(env: Record<string, string | undefined>): boolean {
  return Boolean(env.DBUS_SESSION_BUS_ADDRESS || env.DISPLAY || env.WAYLAND_DISPLAY);
}

function redact(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) if (secret.length >= 4) result = result.split(secret).join('(hidden)');
  return result;
}

function clip(text: string): string {
  return text.length <= BODY_LIMIT ? text : `${text.slice(0, BODY_LIMIT - 3)}...`;
}

/** Pure: the mappings of a recorded run that did not finish, and why, one line each. */
export function describeFailedRun(record: RunRecord): string {
  const bad = (record.mappings ?? []).filter((m) => m.status !== 'ok');
  const lines = bad.map((m) => `${m.name}: ${m.status}${m.reason ? `: ${m.reason}` : ''}`);
  if (record.status === 'interrupted') lines.unshift('interrupted');
  return lines.join('\n');
}

/**
 * Show a failed unattended run on the desktop, where a log file nobody reads cannot. Never
 * throws and gives up after a few seconds: the run's own result is what counts.
 */
export async function notifyFailure(ctx: Context, config: PoofConfig | undefined, notice: FailureNotice): Promise<void> {
  try {
    const plan = planNotification(
      {
        platform: ctx.platform,
        env: ctx.env,
        stdinIsTTY: Boolean(process.stdin.isTTY),
        stdoutIsTTY: ctx.stdoutIsTTY,
        enabled: config?.notify !== false,
        secrets: [config?.healthcheck, ...SECRET_VARS.map((name) => ctx.env[name])].filter((s): s is string => Boolean(s)),
      },
      notice,
    );
    if (!plan) return;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(ctx.env)) if (value !== undefined && !SECRET_VARS.includes(key)) env[key] = value;
    const result = await runProgram(plan.program, plan.args, { env, timeoutMs: NOTIFY_TIMEOUT_MS });
    if (result.exitCode !== 0) {
      const why = result.timedOut ? `no answer within ${NOTIFY_TIMEOUT_MS / 1000} s` : result.stderr.trim().split('\n').pop() || `exit ${result.exitCode}`;
      ctx.err(`poof: could not show a desktop notification (${plan.program}: ${why})`);
    }
  } catch (error) {
    ctx.err(`poof: could not show a desktop notification (${(error as Error).message})`);
  }
}
