import type { ListrRendererValue, ListrTask } from 'listr2';
import type { Context } from '../context.js';

/** tty: live task list; plain: one line per event (cron, launchd, pipes); silent: --json/--quiet. */
export type OutputMode = 'tty' | 'plain' | 'silent';

export function outputMode(ctx: Context, options: { json?: boolean; quiet?: boolean }): OutputMode {
  if (options.json || options.quiet) return 'silent';
  return ctx.stdoutIsTTY && ctx.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

/** The one place a Listr is made. Task failures are collected by the tasks, never thrown out. */
export async function runTaskList<T>(tasks: ListrTask<T>[], mode: OutputMode): Promise<void> {
  const { Listr } = await import('listr2');
  const renderer: ListrRendererValue = mode === 'tty' ? 'default' : mode === 'plain' ? 'simple' : 'silent';
  const list = new Listr<T, ListrRendererValue, ListrRendererValue>(tasks, { concurrent: false, exitOnError: false, renderer });
  await list.run();
}
