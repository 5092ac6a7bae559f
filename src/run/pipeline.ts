import type { Context } from '../context.js';
import type { RunAllOutcome } from '../engine/run-all.js';
import type { MappingResult } from '../engine/result.js';
import { CancelledError, DeclinedError, ExitCode, LockedError, PoofError, RcloneMissingError, RunFailedError, UsageError } from '../errors.js';
import { ensurePrivateDir } from '../fs/atomic-write.js';
import { capabilitiesOf, unmetNeed } from '../rclone/capabilities.js';
import { resolveRemote, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { appendRunRecord, toRunRecord } from './history.js';
import { watchInterrupts, type Interrupt } from './interrupt.js';
import { acquireLock, type HeldLock, type LockHolder } from './lock.js';
import { convertStoredLinks } from './stored-links.js';
import { openLogFile, type LogFile } from './log-file.js';
import { endMonitoring, isMonitored, startMonitoring } from './monitoring.js';
import { describeFailedRun, notifyFailure } from './notify.js';
import { loadRunSetup, type RunSetup } from './setup.js';

export type RunCommand = 'backup' | 'upload' | 'download' | 'restore' | 'prune' | 'check' | 'sync' | 'watch';

export interface RunRequest {
  command: RunCommand;
  dryRun: boolean;
  only?: string[] | undefined;
  /** The exit code when a mapping failed, if not 1 (`poof check`: 4, a problem found). */
  failedCode?: number;
  /** `poof watch`: the lock is taken for each batch (frame.takeLock), not for the whole run. */
  lockPerBatch?: boolean;
}

/** What every step of a run reads: set up once, before anything runs. */
export interface RunFrame {
  setup: RunSetup;
  remote: ResolvedRemote;
  rclone: Rclone;
  interrupt: Interrupt;
  log: LogFile;
  /** With lockPerBatch: take the lock for one batch, or hear who holds it. */
  takeLock: () => Promise<HeldLock | { heldBy: string }>;
}

export interface PipelineOutcome {
  exitCode: number;
  outcome: RunAllOutcome<MappingResult>;
  /** The signal that interrupted the run, if one did. */
  signal?: NodeJS.Signals;
}

/** The side effects a test may swap: finding rclone. */
export interface PipelineAdapters {
  locateRclone: (ctx: Context) => Promise<Rclone>;
}

const realAdapters: PipelineAdapters = {
  locateRclone: (ctx) => ctx.locateRclone({ cacheVersion: true }),
};

/**
 * Set by `poof watch` for the full backups it runs: they hold the lock as watch's (a run that
 * wants it meanwhile waits, as for a batch). Not for users.
 */
export const RUN_BY_WATCH = 'POOF_RUN_BY_WATCH';

/** How long a run waits for `poof watch` to finish its current batch before saying the lock is held. */
const WAIT_FOR_WATCH_MS = 10 * 60_000;

const emptyOutcome = (): RunAllOutcome<MappingResult> => ({ results: [], notRun: [] });

/**
 * The one pipeline of every command that changes data: catch signals, load both configs, take
 * the lock, find rclone and resolve the remote, run the before hook, run, and then end the
 * run in one place whatever happened (refusal, failure, lock held, Ctrl-C): record it, ping,
 * run onFailure/after (when it held the lock), release the lock, and give the exit code.
 */
export async function runPipeline(
  ctx: Context,
  request: RunRequest,
  body: (frame: RunFrame) => Promise<RunAllOutcome<MappingResult>>,
  adapters: PipelineAdapters = realAdapters,
): Promise<PipelineOutcome> {
  const { command, dryRun } = request;
  // Listening from the start means a Ctrl-C during setup is recorded, not a silent death.
  const interrupt = watchInterrupts();
  const started = new Date();
  let outcome = emptyOutcome();
  let exitCode: number = ExitCode.runFailed;
  let failure: unknown;
  let setup: RunSetup | undefined;
  let lock: HeldLock | undefined;
  let monitored = false;
  let ownsRun = false;
  try {
    await ensurePrivateDir(ctx.paths.stateDir);
    setup = await loadRunSetup(ctx, request.only);
    const notAppendOnly = setup.config.mode === 'append-only' ? APPEND_ONLY_REFUSALS[command] : undefined;
    if (notAppendOnly) throw new UsageError(`poof ${command} does not work on an append-only backup ("mode": "append-only" in poof.conf): ${notAppendOnly[0]}`, notAppendOnly[1]);
    monitored = isMonitored(setup.config, command, dryRun);
    // The lock first: hooks belong to the run that holds it (a refused run must not unmount
    // the disk that the running one's `before` hook mounted). From here on, whatever ends the
    // run (rclone missing or too old, the before hook, a failure, Ctrl-C), onFailure and after run.
    // `poof watch` holds the lock one batch at a time: a run wanting it waits for that batch.
    const waitForWatch = { ms: WAIT_FOR_WATCH_MS, signal: interrupt.signal, onWait: (holder: LockHolder) => ctx.err(`poof: waiting for the current batch of poof watch (pid ${holder.pid}) to finish`) };
    if (!request.lockPerBatch) lock = await acquireLock(ctx.paths.lockFile, ctx.env[RUN_BY_WATCH] === '1' ? 'watch' : command, { waitForWatch });
    ownsRun = monitored;
    if (lock?.clearedStale) {
      const stale = lock.clearedStale;
      ctx.err(`poof: cleared a stale lock left by pid ${stale.pid} (${stale.command}, started ${stale.started}), which is no longer running`);
    }
    const rclone = await adapters.locateRclone(ctx);
    const need = unmetNeed(setup.config, rclone.version);
    if (need) throw new RcloneMissingError(need, 'install a newer rclone (https://rclone.org/install/), or remove the setting from poof.conf');
    const remote = resolveRemote(setup.config, setup.section, setup.baseSection, ctx.paths.rcloneConf, capabilitiesOf(rclone.version));
    throwIfInterrupted(interrupt);
    if (monitored) {
      const problem = await startMonitoring(ctx, setup.config, command, interrupt.signal);
      throwIfInterrupted(interrupt);
      if (problem) throw new RunFailedError(`the before hook failed (${problem}); ${command} did not run`, 'fix the hook in poof.conf ("hooks.before")');
    }
    const log = openLogFile(ctx.paths.logFile);
    try {
      // What earlier versions stored as real links, made readable first (with the lock held).
      if (lock) await convertStoredLinks(ctx.paths.stateDir, remote, log.write);
      const takeLock = async (): Promise<HeldLock | { heldBy: string }> => {
        try {
          return await acquireLock(ctx.paths.lockFile, command);
        } catch (error) {
          if (error instanceof LockedError) return { heldBy: error.message };
          throw error;
        }
      };
      outcome = await body({ setup, remote, rclone, interrupt, log, takeLock });
    } finally {
      await log.close();
    }
    exitCode = exitCodeOf(outcome);
    if (exitCode === ExitCode.runFailed && request.failedCode !== undefined) exitCode = request.failedCode;
  } catch (error) {
    failure = error;
    exitCode = error instanceof PoofError ? error.exitCode : ExitCode.runFailed;
  }
  const signal = interrupt.received();
  if (signal) {
    // The interruption decides the code, whatever error it caused on the way out.
    exitCode = SIGNAL_EXIT[signal] ?? ExitCode.sigterm;
    failure = undefined;
    ctx.err(`poof: ${command} interrupted by ${signal}; finished mappings stay as they are, nothing else was started`);
  }
  // The user said no, or pressed Ctrl-C at a question: a choice, not a failure to alert about.
  const declined = failure instanceof DeclinedError || failure instanceof CancelledError;
  const lockedOut = failure instanceof LockedError;
  const status = signal ? 'interrupted' : declined ? 'cancelled' : undefined;
  const cause = failure instanceof Error ? failure.message : undefined;
  const record = toRunRecord({ command, started, ended: new Date(), exitCode, dryRun, ...outcome, ...(status ? { status } : {}), ...(cause ? { reason: cause } : {}) });
  await appendRunRecord(ctx.paths.historyFile, record).catch((error: Error) => ctx.err(`poof: could not write the run history: ${error.message}`));
  // Pings report every run that could have run; the running one reports itself when locked out.
  if (monitored && setup && !declined && !lockedOut) await endMonitoring(ctx, setup.config, command, exitCode, cause, ownsRun);
  // A failed run nobody watches (a schedule) shows on the desktop, not only in a log file.
  // Stopping watch (Ctrl-C, a service stopped at logout) is how it ends, not a failure.
  if (exitCode !== 0 && !dryRun && command !== 'download' && !declined && !(command === 'watch' && signal)) {
    await notifyFailure(ctx, setup?.config, { command, exitCode, summary: describeFailedRun(record) || cause || '' });
  }
  await lock?.release();
  interrupt.dispose();
  if (failure) throw failure;
  return { exitCode, outcome, ...(signal ? { signal } : {}) };
}

/** Pure: 0 when every mapping finished, 7 when the only shortfall is files that kept changing, else 1. */
export function exitCodeOf(outcome: RunAllOutcome<MappingResult>): number {
  if (outcome.notRun.length > 0 || outcome.results.some((r) => r.status === 'failed' || r.status === 'refused')) return ExitCode.runFailed;
  return outcome.results.some((r) => r.status === 'partial') ? ExitCode.partial : ExitCode.ok;
}

/** What an append-only backup cannot do (yet), and what to do instead. */
const APPEND_ONLY_REFUSALS: Partial<Record<RunCommand, [string, string]>> = {
  upload: ['wiping local files needs a mirror to prove them against', 'use poof backup, or "mode": "mirror" for uploads'],
};

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGINT: ExitCode.sigint, SIGTERM: ExitCode.sigterm, SIGHUP: ExitCode.sighup };

function throwIfInterrupted(interrupt: Interrupt): void {
  if (interrupt.signal.aborted) throw new CancelledError(`interrupted by ${interrupt.received() ?? 'a signal'}`);
}
