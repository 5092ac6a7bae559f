import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { runShell } from '../process/run.js';

const PING_TIMEOUT_MS = 10_000;
const HOOK_TIMEOUT_S = 300;

/** Pure: is this run watched by hooks and pings? Dry runs and restores never are. */
export function isMonitored(config: PoofConfig, command: string, dryRun: boolean): boolean {
  return !dryRun && (command === 'backup' || command === 'upload') && Boolean(config.healthcheck || config.hooks);
}

/**
 * Before a backup or upload: the `before` hook, then the start ping. Returns why the hook
 * failed (the run must then not start), or undefined.
 */
export async function startMonitoring(ctx: Context, config: PoofConfig, command: string, cancelSignal: AbortSignal): Promise<string | undefined> {
  const hooks = config.hooks ?? {};
  if (hooks.before) {
    const problem = await runHook(ctx, hooks.before, { POOF_COMMAND: command }, hookTimeoutMs(config), cancelSignal);
    if (problem) return problem;
  }
  await ping(ctx, config.healthcheck, '/start', `poof ${command} started`);
  return undefined;
}

/**
 * After every monitored run, whatever ended it: the success or failure ping, then, when the
 * run held the lock, `onFailure` and `after` (which then always runs, also when rclone was missing
 * or the `before` hook failed). Their own failures are reported and never change the
 * run's exit code.
 */
export async function endMonitoring(ctx: Context, config: PoofConfig, command: string, exitCode: number, cause: string | undefined, runHooks: boolean): Promise<void> {
  const hooks = config.hooks ?? {};
  const env = { POOF_COMMAND: command, POOF_EXIT_CODE: String(exitCode) };
  if (exitCode === 0) await ping(ctx, config.healthcheck, '', `poof ${command} ok`);
  else await ping(ctx, config.healthcheck, '/fail', `poof ${command} failed with exit code ${exitCode}${cause ? `: ${cause}` : ''}`);
  if (!runHooks) return;
  if (exitCode !== 0 && hooks.onFailure) reportHook(ctx, 'onFailure', await runHook(ctx, hooks.onFailure, env, hookTimeoutMs(config)));
  if (hooks.after) reportHook(ctx, 'after', await runHook(ctx, hooks.after, env, hookTimeoutMs(config)));
}

const hookTimeoutMs = (config: PoofConfig) => (config.hooks?.timeoutSeconds ?? HOOK_TIMEOUT_S) * 1000;

/** Run a hook through /bin/sh; undefined when it succeeded, else why it failed. */
async function runHook(ctx: Context, command: string, extra: Record<string, string>, timeoutMs: number, cancelSignal?: AbortSignal): Promise<string | undefined> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.env)) if (value !== undefined) env[key] = value;
  const result = await runShell(command, { env: { ...env, ...extra }, timeoutMs, cancelSignal });
  if (result.cancelled) return 'interrupted';
  if (result.timedOut) return `stopped after ${timeoutMs / 1000} s`;
  if (result.exitCode !== 0) return `exit ${result.exitCode}${result.lastError ? `: ${result.lastError}` : ''}`;
  return undefined;
}

function reportHook(ctx: Context, name: string, problem: string | undefined): void {
  if (problem) ctx.err(`poof: the ${name} hook failed (${problem}); the run's own result stands`);
}

/** One healthchecks.io-style ping; a failure is reported and otherwise ignored. */
async function ping(ctx: Context, url: string | undefined, suffix: string, body: string): Promise<void> {
  if (!url) return;
  const target = `${url.replace(/\/+$/, '')}${suffix}`;
  try {
    const response = await fetch(target, { method: 'POST', body, signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    if (!response.ok) ctx.err(`poof: healthcheck ping ${suffix || '(success)'} answered HTTP ${response.status}`);
  } catch (error) {
    ctx.err(`poof: healthcheck ping ${suffix || '(success)'} failed: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
}
