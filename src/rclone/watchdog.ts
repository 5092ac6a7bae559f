import type { LogEvent } from './log-parse.js';

/** Errors that mean the server went away rather than one file failing. */
const CONNECTION_ERROR =
  /connection (refused|lost|reset|timed out)|closed (SSH|network) connection|broken pipe|no route to host|network is unreachable|couldn't connect|i\/o timeout|handshake (failed|timeout)|no such host|\bEOF\b/i;
/**
 * After a connection error, how long rclone may go without progress before poof stops it.
 * Measured with rclone 1.60 against an SFTP server killed mid-run: rclone retried each remaining
 * file for 12-50 s and was still running after 300 s, even with --retries 1.
 */
export const STALL_AFTER_CONNECTION_ERROR_MS = 30_000;

/** Pure: the stall limit from poof.conf's rclone.stallSeconds, or the default. */
export function stallMsFor(stallSeconds: number | undefined): number {
  return stallSeconds === undefined ? STALL_AFTER_CONNECTION_ERROR_MS : stallSeconds * 1000;
}

/**
 * Stop rclone when the server has gone: a connection error followed by no byte moving and no
 * file finishing for stallMs (poof.conf rclone.stallSeconds). Also forwards the user's interruption.
 */
export function watchConnection(cancelSignal: AbortSignal | undefined, stallMs: number) {
  const controller = new AbortController();
  const forward = () => controller.abort(cancelSignal?.reason);
  if (cancelSignal?.aborted) forward();
  cancelSignal?.addEventListener('abort', forward, { once: true });
  let firstError: { at: number; message: string; baseline?: number } | undefined;
  let stalled: string | undefined;
  const timer = setInterval(() => {
    if (firstError && Date.now() - firstError.at > stallMs && !controller.signal.aborted) {
      stalled = firstError.message;
      controller.abort(new Error('the remote stopped answering'));
    }
  }, Math.min(1_000, Math.max(10, stallMs / 4)));
  timer.unref();
  return {
    signal: controller.signal,
    see(event: LogEvent) {
      if (event.kind === 'error' && CONNECTION_ERROR.test(event.message)) firstError ??= { at: Date.now(), message: event.message.slice(0, 300) };
      else if (event.kind === 'file' && event.action !== 'skipped') firstError = undefined;
      else if (event.kind === 'stats' && firstError) {
        // Only bytes moving show that the remote answers: rclone counts a transfer, a check and
        // a delete when it ends or starts, failed or not, so those counters keep rising while
        // every file fails against a dead server. The first stats line after the error still
        // counts what moved before it: it is the baseline.
        if (firstError.baseline === undefined) firstError.baseline = event.stats.bytes;
        else if (event.stats.bytes > firstError.baseline) firstError = undefined;
      }
    },
    stalled: () => stalled,
    dispose() {
      clearInterval(timer);
      cancelSignal?.removeEventListener('abort', forward);
    },
  };
}
