import { describeRcloneExit } from '../rclone/exit-codes.js';
import { parseLogLine, type LogEvent, type RcloneStats } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import type { UploadReport } from '../upload/run-upload.js';
import type { MappingPlan } from './plan.js';
import { STALL_AFTER_CONNECTION_ERROR_MS, watchConnection } from '../rclone/watchdog.js';

export interface MappingResult {
  name: string;
  localDir: string;
  remotePath: string;
  status: 'ok' | 'failed' | 'refused';
  reason?: string;
  rcloneExit?: number;
  stats?: RcloneStats;
  copied: number;
  deleted: number;
  errors: string[];
  durationMs: number;
  /** A restore: local files moved to the trash (or to keptIn) before they were replaced or deleted. */
  trashed?: number;
  keptIn?: string;
  /** An upload: what was proven on the remote, wiped locally and kept. */
  upload?: UploadReport;
}

export interface RunMappingHooks {
  onEvent?: (event: LogEvent) => void;
  /** Every raw stderr line, for the log file. */
  onLine?: (line: string) => void;
  /** Aborting it stops rclone (SIGTERM). */
  cancelSignal?: AbortSignal;
  /** A phase after the copy (proving, wiping), for the progress line. */
  onStatus?: (text: string) => void;
}

const MAX_KEPT_ERRORS = 20;

/** Run one planned sync; success only when rclone exits 0. */
export async function runMapping(rclone: Rclone, plan: MappingPlan, hooks: RunMappingHooks = {}): Promise<MappingResult> {
  const base = { name: plan.name, localDir: plan.localDir, remotePath: plan.remotePath, copied: 0, deleted: 0, errors: [] as string[] };
  if (plan.refusal) return { ...base, status: 'refused', reason: plan.refusal, durationMs: 0 };
  const started = Date.now();
  let stats: RcloneStats | undefined;
  let copied = 0;
  let deleted = 0;
  const errors: string[] = [];
  const stallMs = plan.stallMs ?? STALL_AFTER_CONNECTION_ERROR_MS;
  const watchdog = watchConnection(hooks.cancelSignal, stallMs);
  const result = await rclone.run(plan.args, {
    cancelSignal: watchdog.signal,
    onStderrLine: (line) => {
      hooks.onLine?.(line);
      const event = parseLogLine(line);
      if (!event) return;
      watchdog.see(event);
      if (event.kind === 'stats') stats = event.stats;
      if (event.kind === 'file' && (event.action === 'copied' || event.action === 'updated')) copied++;
      if (event.kind === 'file' && event.action === 'deleted') deleted++;
      if (event.kind === 'error' && errors.length < MAX_KEPT_ERRORS) errors.push(event.object ? `${event.object}: ${event.message}` : event.message);
      hooks.onEvent?.(event);
    },
  });
  watchdog.dispose();
  const durationMs = Date.now() - started;
  const common = { ...base, rcloneExit: result.exitCode, copied, deleted, errors, durationMs, ...(stats ? { stats } : {}) };
  if (result.exitCode === 0) return { ...common, status: 'ok' };
  const reason = hooks.cancelSignal?.aborted
    ? 'interrupted: rclone was stopped before it finished'
    : watchdog.stalled()
      ? `the remote stopped answering (${watchdog.stalled()}); poof stopped rclone after ${stallMs / 1000} s without progress rather than retry every file`
    : result.signal
      ? `rclone was stopped by ${result.signal}`
    : `rclone exited ${result.exitCode}: ${describeRcloneExit(result.exitCode).meaning}`;
  return { ...common, status: 'failed', reason };
}
