import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { PoofError, RunFailedError } from '../errors.js';
import { spawnProgram } from '../rclone/spawn.js';
import { notifyFailure, summarizeFailure } from './notify.js';

const PING_TIMEOUT_MS = 10_000;
const HOOK_TIMEOUT_S = 300;

/**
 * Around a backup or upload (not a dry run): pings and hooks, then a desktop notification when
 * the run failed with nobody watching, whether or not pings or hooks are configured.
 */
export async function withMonitoring(ctx: Context, config: PoofConfig, command: string, dryRun: boolean, body: () => Promise<number>): Promise<number> {
  if (dryRun) return body();
  const started = new Date();
  let exitCode = 1;
  let failure: unknown;
  try {
    exitCode = await withPingsAndHooks(ctx, config, command, body);
  } catch (error) {
    failure = error;
    exitCode = error instanceof PoofError ? error.exitCode : 1;
  }
  if (exitCode !== 0) await notifyFailure(ctx, config, { command, exitCode, summary: await summarizeFailure(ctx.paths.historyFile, started, failure) });
  if (failure) throw failure;
  return exitCode;
}

/**
 * The `before` hook, a start ping, the run, then a success or failure ping and the `after` /
 * `onFailure` hooks. A ping or an after-hook that fails is reported on stderr but never changes
 * the run's own exit code; a failed `before` hook stops the run.
 */
async function withPingsAndHooks(ctx: Context, config: PoofConfig, command: string, body: () => Promise<number>): Promise<number> {
  if (!config.healthcheck && !config.hooks) return body();
  const hooks = config.hooks ?? {};
  const timeoutMs = (hooks.timeoutSeconds ?? HOOK_TIMEOUT_S) * 1000;
  if (hooks.before) {
    const before = await runHook(ctx, hooks.before, { POOF_COMMAND: command }, timeoutMs);
    if (before) {
      await ping(ctx, config.healthcheck, '/fail', `poof ${command}: the before hook failed (${before}); nothing was run`);
      throw new RunFailedError(`the before hook failed (${before}); ${command} did not run`, 'fix the hook in poof.conf ("hooks.before")');
    }
  }
  await ping(ctx, config.healthcheck, '/start', `poof ${command} started`);
  let exitCode = 1;
  let failure: unknown;
  try {
    exitCode = await body();
  } catch (error) {
    failure = error;
    exitCode = error instanceof PoofError ? error.exitCode : 1;
  }
  const env = { POOF_COMMAND: command, POOF_EXIT_CODE: String(exitCode) };
  if (exitCode === 0) await ping(ctx, config.healthcheck, '', `poof ${command} ok`);
  else await ping(ctx, config.healthcheck, '/fail', `poof ${command} failed with exit code ${exitCode}`);
  if (exitCode !== 0 && hooks.onFailure) await reportHook(ctx, 'onFailure', await runHook(ctx, hooks.onFailure, env, timeoutMs));
  if (hooks.after) await reportHook(ctx, 'after', await runHook(ctx, hooks.after, env, timeoutMs));
  if (failure) throw failure;
  return exitCode;
}

/** Run a hook through /bin/sh; undefined when it succeeded, else why it failed. */
async function runHook(ctx: Context, command: string, extra: Record<string, string>, timeoutMs: number): Promise<string | undefined> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(ctx.env)) if (value !== undefined) env[key] = value;
  const result = await spawnProgram('/bin/sh', ['-c', command], { env: { ...env, ...extra }, timeoutMs });
  if (result.timedOut) return `stopped after ${timeoutMs / 1000} s`;
  if (result.exitCode !== 0) return `exit ${result.exitCode}${result.stderr.trim() ? `: ${result.stderr.trim().split('\n').pop()?.slice(0, 200)}` : ''}`;
  return undefined;
}

async function reportHook(ctx: Context, name: string, problem: string | undefined): Promise<void> {
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
