import { parseLogLine, type LogEvent } from './log-parse.js';
import type { Rclone, RcloneResult } from './runner.js';
import { STALL_AFTER_CONNECTION_ERROR_MS, watchConnection } from './watchdog.js';

export interface StreamOptions {
  /** Aborting it stops rclone (SIGTERM, then SIGKILL after a grace period). */
  cancelSignal?: AbortSignal | undefined;
  /** After a connection error, how long without progress before rclone is stopped. */
  stallMs?: number | undefined;
  /** Every raw stderr line, for the log file. */
  onLine?: ((line: string) => void) | undefined;
  /** Every parsed JSON log event. */
  onEvent?: ((event: LogEvent) => void) | undefined;
}

export interface StreamResult extends RcloneResult {
  /** Set when poof stopped rclone because the remote stopped answering: the first connection error. */
  stalled?: string;
  /** The caller's cancel signal fired. */
  cancelled: boolean;
}

/**
 * The one way poof runs a long rclone command: stderr is parsed line by line as JSON log events,
 * each event feeds the stall watchdog (rclone 1.60 retries every file for minutes after the
 * server vanished) and then the caller.
 */
export async function runStreamed(rclone: Rclone, args: string[], options: StreamOptions = {}): Promise<StreamResult> {
  const watchdog = watchConnection(options.cancelSignal, options.stallMs ?? STALL_AFTER_CONNECTION_ERROR_MS);
  try {
    const result = await rclone.run(args, {
      cancelSignal: watchdog.signal,
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
