import type { ListrRendererValue, ListrTask } from 'listr2';
import type { Context } from '../context.js';
import type { Direction, EngineEvent } from '../engine/events.js';
import type { MappingPlan } from '../engine/plan.js';
import type { MappingResult } from '../engine/result.js';
import { formatProgress, formatResult, formatTitle } from './format.js';

/** tty: live task list; plain: one line per event (cron, launchd, pipes); silent: --json/--quiet. */
export type OutputMode = 'tty' | 'plain' | 'silent';

export function outputMode(ctx: Context, options: { json?: boolean | undefined; quiet?: boolean | undefined }): OutputMode {
  if (options.json || options.quiet) return 'silent';
  return ctx.stdoutIsTTY && ctx.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

export interface RunView {
  emit(event: EngineEvent<MappingResult>): void;
  /** Wait for the display to settle, then tell rclone's errors and (dry run) the planned changes. */
  finish(): Promise<void>;
}

interface ViewOptions {
  direction: Direction;
  dryRun: boolean;
}

/** The one place a run is rendered: a listr2 task list on a terminal, plain lines otherwise. */
export async function createRunView(ctx: Context, mode: OutputMode, plans: MappingPlan[], options: ViewOptions): Promise<RunView> {
  // A mapping rclone ran twice (poof's one retry) would otherwise show each error twice.
  const errors = new Set<string>();
  const planned: string[] = [];
  const collect = (event: EngineEvent<MappingResult>) => {
    if (event.type === 'rclone-error') errors.add(`${event.name}: ${event.message}`);
    if (event.type === 'planned') planned.push(`${event.name}: would ${event.action} ${event.object}`);
  };
  const tell = () => {
    if (mode !== 'silent') for (const line of planned) ctx.out(line);
    for (const line of errors) ctx.err(`poof: ${line}`);
  };
  if (mode === 'tty') {
    const list = await createTaskList(ctx, plans, options);
    return {
      emit: (event) => {
        collect(event);
        list.emit(event);
      },
      finish: async () => {
        await list.done;
        tell();
      },
    };
  }
  return {
    emit: (event) => {
      collect(event);
      if (mode === 'plain') renderPlain(ctx, event, options);
    },
    finish: async () => tell(),
  };
}

/** Plain text for logs and pipes: one line when a mapping starts and one when it ends. */
function renderPlain(ctx: Context, event: EngineEvent<MappingResult>, options: ViewOptions): void {
  if (event.type === 'start') ctx.out(formatTitle(event.plan, options.direction, options.dryRun));
  else if (event.type === 'not-started') ctx.err(`poof: ${event.name}: not started (interrupted)`);
  else if (event.type === 'end') {
    const line = formatResult(event.result, options.dryRun, options.direction);
    if (event.result.status === 'ok') ctx.out(line);
    else ctx.err(line);
  }
}

type Settle = { kind: 'end'; result: MappingResult } | { kind: 'skip' };

/**
 * listr2 draws; the engine runs. Each task waits for its mapping's end event. listr2's own signal
 * listeners are off: the run session alone reacts to SIGINT/SIGTERM (listr2's would exit 127).
 */
async function createTaskList(ctx: Context, plans: MappingPlan[], options: ViewOptions) {
  const { Listr } = await import('listr2');
  const waiting = new Map<string, { settle: (s: Settle) => void; output: (text: string) => void }>();
  // An event for a task listr2 has not reached yet waits here.
  const pending = new Map<string, Settle>();
  const tasks: ListrTask<unknown>[] = plans.map((plan) => ({
    title: formatTitle(plan, options.direction, options.dryRun),
    task: async (_ctx, task) => {
      const early = pending.get(plan.name);
      pending.delete(plan.name);
      const settled = early ?? (await new Promise<Settle>((settle) => waiting.set(plan.name, { settle, output: (text) => (task.output = text) })));
      if (settled.kind === 'skip') {
        task.skip(`${plan.name}: not started (interrupted)`);
        return;
      }
      const { result } = settled;
      if (result.status === 'ok') {
        task.title = formatResult(result, options.dryRun, options.direction);
        return;
      }
      // listr2 shows a failed task by its error message alone: the message is the whole line.
      throw new Error(formatResult(result, options.dryRun, options.direction));
    },
  }));
  const list = new Listr<unknown, ListrRendererValue, ListrRendererValue>(tasks, { registerSignalListeners: false,
    concurrent: false,
    exitOnError: false,
    renderer: 'default',
    rendererOptions: { collapseSubtasks: false },
  });
  const done = list.run().then(
    () => undefined,
    (error: Error) => ctx.err(`poof: the progress display failed: ${error.message}`),
  );
  const settle = (name: string, value: Settle) => {
    const entry = waiting.get(name);
    if (!entry) return void pending.set(name, value);
    waiting.delete(name);
    entry.settle(value);
  };
  return {
    done,
    emit(event: EngineEvent<MappingResult>) {
      if (event.type === 'progress') waiting.get(event.name)?.output(formatProgress(event.stats));
      else if (event.type === 'phase') waiting.get(event.name)?.output(event.text);
      else if (event.type === 'end') settle(event.result.name, { kind: 'end', result: event.result });
      else if (event.type === 'not-started') settle(event.name, { kind: 'skip' });
    },
  };
}
