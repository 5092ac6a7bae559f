import type { EmitEvent } from './events.js';
import type { MappingPlan } from './plan.js';
import type { TransferResult } from './result.js';

export interface RunAllOutcome<R extends TransferResult = TransferResult> {
  results: R[];
  /** Mappings never started (after an interruption). */
  notRun: string[];
}

/**
 * Run each planned mapping in turn; a failure never stops the others, an interruption stops
 * everything not yet started. Rendering is the caller's: it gets every event.
 */
export async function runAll<R extends TransferResult>(
  plans: MappingPlan[],
  runOne: (plan: MappingPlan) => Promise<R>,
  options: { cancelSignal: AbortSignal; emit: EmitEvent<R> },
): Promise<RunAllOutcome<R>> {
  const results: R[] = [];
  const notRun: string[] = [];
  for (const plan of plans) {
    if (options.cancelSignal.aborted) {
      notRun.push(plan.name);
      options.emit({ type: 'not-started', name: plan.name });
      continue;
    }
    options.emit({ type: 'start', plan });
    const result = await runOne(plan);
    results.push(result);
    options.emit({ type: 'end', result });
  }
  return { results, notRun };
}
