import type { ListrTask } from 'listr2';
import { dryRunAction, type LogEvent } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import type { RunOutcome } from '../run/session.js';
import { runTaskList, type OutputMode } from '../ui/task-list.js';
import type { MappingPlan } from './plan.js';
import { formatProgress } from './progress.js';
import { runMapping, type MappingResult, type RunMappingHooks } from './run-mapping.js';
import { formatResult, type TransferKind } from './summary.js';

export interface RunAllOptions {
  mode: OutputMode;
  dryRun: boolean;
  cancelSignal: AbortSignal;
  log: (line: string) => void;
  /** backup (local -> remote, the default) or restore (remote -> local): titles and wording. */
  kind?: TransferKind;
  /**
   * Runs one mapping; the default runs its rclone command. A restore wraps it to put local
   * files in the trash first.
   */
  runOne?: (plan: MappingPlan, hooks: RunMappingHooks) => Promise<MappingResult>;
}

export interface RunAllOutcome extends RunOutcome {
  /** rclone's error lines, told after the task list so they do not garble it. */
  errors: string[];
  /** With --dry-run: what would be copied or deleted. */
  planned: string[];
}

/** Run each planned mapping in turn as one task of a task list; a failure never stops the others. */
export async function runAllMappings(rclone: Rclone, plans: MappingPlan[], options: RunAllOptions): Promise<RunAllOutcome> {
  const results: MappingResult[] = [];
  const notRun: string[] = [];
  const errors: string[] = [];
  const planned: string[] = [];
  const kind = options.kind ?? 'backup';
  const runOne = options.runOne ?? ((plan: MappingPlan, hooks: RunMappingHooks) => runMapping(rclone, plan, hooks));
  const arrow = kind === 'backup' ? '->' : '<-';
  const tasks: ListrTask<unknown>[] = plans.map((plan) => ({
    title: `${plan.name}: ${plan.localDir} ${arrow} ${plan.remotePath}${options.dryRun ? ' (dry run)' : ''}`,
    task: async (_ctx, task) => {
      if (options.cancelSignal.aborted) {
        notRun.push(plan.name);
        task.skip(`${plan.name}: not started (interrupted)`);
        return;
      }
      options.log(`# ${new Date().toISOString()} ${plan.name}: rclone ${plan.args.join(' ')}`);
      const result = await runOne(plan, {
        cancelSignal: options.cancelSignal,
        onLine: options.log,
        onStatus: (text) => {
          if (options.mode === 'tty') task.output = text;
        },
        onEvent: (event: LogEvent) => {
          if (event.kind === 'stats' && options.mode === 'tty') task.output = formatProgress(event.stats);
          if (event.kind === 'error') errors.push(`${plan.name}: ${event.object ? `${event.object}: ` : ''}${event.message}`);
          if (options.dryRun && event.kind === 'file' && event.action === 'skipped') {
            const action = dryRunAction(event.message);
            if (action === 'copy' || action === 'delete') planned.push(`${plan.name}: would ${action} ${event.object}`);
          }
        },
      });
      results.push(result);
      const line = formatResult(result, options.dryRun, kind);
      if (result.status === 'ok') {
        task.title = line;
        return;
      }
      // listr2 shows a failed task as "title [FAILED: message]": the name, then the details.
      task.title = plan.name;
      throw new Error(line.slice(plan.name.length + 2).replace(/^FAILED: /, '').replace(/^REFUSED: /, 'refused: '));
    },
  }));
  await runTaskList(tasks, options.mode);
  return { results, notRun, errors, planned };
}
