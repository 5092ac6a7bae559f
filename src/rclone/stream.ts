import { parseLogLine, stripTimestamp, type LogEvent } from './log-parse.js';
import type { Rclone, RcloneResult } from './runner.js';
import { CONNECTION_ERROR, STALL_AFTER_CONNECTION_ERROR_MS, watchConnection, type Stall } from './watchdog.js';

export interface StreamOptions {
  /** Aborting it stops rclone (SIGTERM, then SIGKILL after a grace period). */
  cancelSignal?: AbortSignal | undefined;
  /** After a connection error, how long without progress before rclone is stopped. */
  stallMs?: number | undefined;
  /** Every raw stderr line, for the log file. */
  onLine?: ((line: string) => void) | undefined;
  /** Called once rclone has been started. */
  onSpawn?: (() => void) | undefined;
  /** Every parsed JSON log event. */
  onEvent?: ((event: LogEvent) => void) | undefined;
  /**
   * A quick rclone command that shows whether the remote answers (a one-level listing with short
   * timeouts), run when rclone has been silent a while: how a dead server is found when rclone
   * retries without logging anything.
   */
  probeArgs?: string[] | undefined;
}

export interface StreamResult extends RcloneResult {
  /** Set when poof stopped rclone because the remote stopped answering. */
  stalled?: Stall;
  /** The caller's cancel signal fired. */
  cancelled: boolean;
}

/**
 * The one way poof runs a long rclone command: stderr is parsed line by line as JSON log events,
 * each event feeds the stall watchdog (rclone 1.60 retries every file for minutes after the
 * server vanished) and then the caller.
 */
export async function runStreamed(rclone: Rclone, args: string[], options: StreamOptions = {}): Promise<StreamResult> {
  const probeArgs = options.probeArgs;
  const probe = probeArgs ? (signal: AbortSignal) => askRemote(rclone, probeArgs, signal) : undefined;
  const watchdog = watchConnection(options.cancelSignal, options.stallMs ?? STALL_AFTER_CONNECTION_ERROR_MS, probe);
  try {
    const result = await rclone.run(args, {
      cancelSignal: watchdog.signal,
      ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
      onStderrLine: (line) => {
        options.onLine?.(line);
        const event = parseLogLine(line);
        if (!event) return;
        watchdog.see(event);
        options.onEvent?.(event);
      },
    });
    const stalled = watchdog.stalled();
    return { ...result, cancelled: Boolean(options.cancelSignal?.aborted), ...(stalled ? { stalled } : {}) };
  } finally {
    watchdog.dispose();
  }
}

/**
 * The remote's error when a quick probe finds it unreachable (rclone's temporary-error exit 5,
 * or a connection error); undefined when it answered, even with "directory not found".
 */
async function askRemote(rclone: Rclone, args: string[], signal: AbortSignal): Promise<string | undefined> {
  const result = await rclone.run(args, { cancelSignal: signal, timeoutMs: 60_000 });
  if (result.exitCode === 0 || signal.aborted) return undefined;
  if (result.exitCode !== 5 && !CONNECTION_ERROR.test(result.stderr)) return undefined;
  const lines = result.stderr.split('\n').map(stripTimestamp).filter((l) => l !== '');
  const line = lines.find((l) => CONNECTION_ERROR.test(l)) ?? lines[lines.length - 1] ?? `rclone exited ${result.exitCode}`;
  // The network's own words ("dial tcp 127.0.0.1:9000: connect: connection refused") say most.
  return (/dial tcp .*/.exec(line)?.[0].replace(/"\)?$/, '') ?? line).slice(0, 300);
}
