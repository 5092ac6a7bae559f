import type { MappingResult } from '../backup/run-mapping.js';
import type { Context } from '../context.js';
import { ExitCode, PoofError } from '../errors.js';
import { ensurePrivateDir } from '../fs/atomic-write.js';
import { appendRunRecord, toRunRecord } from './history.js';
import { watchInterrupts, type Interrupt } from './interrupt.js';
import { acquireLock } from './lock.js';

export interface RunOutcome {
  results: MappingResult[];
  /** Mappings never started (after an interruption). */
  notRun: string[];
}

/**
 * The frame of every run that changes data: take the lock, catch SIGINT/SIGTERM, run, then
 * record the run in the history and release the lock, whatever happened.
 */
export async function withRunSession(
  ctx: Context,
  command: string,
  dryRun: boolean,
  body: (interrupt: Interrupt) => Promise<RunOutcome>,
): Promise<number> {
  await ensurePrivateDir(ctx.paths.stateDir);
  const lock = await acquireLock(ctx.paths.lockFile, command);
  if (lock.clearedStale) {
    ctx.err(`poof: cleared a stale lock left by pid ${lock.clearedStale.pid} (${lock.clearedStale.command}, started ${lock.clearedStale.started}), which is no longer running`);
  }
  const interrupt = watchInterrupts();
  const started = new Date();
  let outcome: RunOutcome = { results: [], notRun: [] };
  let exitCode: number = ExitCode.runFailed;
  try {
    outcome = await body(interrupt);
    const signal = interrupt.received();
    exitCode = signal
      ? signal === 'SIGINT'
        ? ExitCode.sigint
        : ExitCode.sigterm
      : outcome.results.every((r) => r.status === 'ok')
        ? ExitCode.ok
        : ExitCode.runFailed;
    if (signal) ctx.err(`poof: ${command} interrupted by ${signal}; finished mappings stay as they are, nothing else was started`);
    return exitCode;
  } catch (error) {
    // A refusal inside the run (no --yes, a declined question) is recorded with its own code.
    if (error instanceof PoofError) exitCode = error.exitCode;
    throw error;
  } finally {
    interrupt.dispose();
    const record = toRunRecord({ command, started, ended: new Date(), exitCode, interrupted: Boolean(interrupt.received()), dryRun, ...outcome });
    await appendRunRecord(ctx.paths.historyFile, record).catch((error: Error) => ctx.err(`poof: could not write the run history: ${error.message}`));
    await lock.release();
  }
}
