import type { LogEvent } from './log-parse.js';

/** Errors that mean the server went away rather than one file failing. */
export const CONNECTION_ERROR =
  /connection (refused|lost|reset|timed out)|closed (SSH|network) connection|broken pipe|no route to host|network is unreachable|couldn't connect|i\/o timeout|handshake (failed|timeout)|no such host|\bEOF\b|request send failed|exceeded maximum number of attempts/i;
/**
 * After a connection error, how long rclone may go without progress before poof stops it.
 * Measured with rclone 1.60 against an SFTP server killed mid-run: rclone retried each remaining
 * file for 12-50 s and was still running after 300 s, even with --retries 1.
 */
export const STALL_AFTER_CONNECTION_ERROR_MS = 30_000;
/**
 * Without any error logged, how long rclone may go without progress before poof asks the remote
 * itself whether it answers. rclone 1.75 retries an S3 server that refuses connections silently
 * (nothing above debug level) for 7.5 minutes before it fails, with a misleading "is a file not a
 * directory" (measured); 1.60 failed at once.
 */
export const PROBE_AFTER_SILENCE_MS = 10_000;

/** Pure: the stall limit from poof.conf's rclone.stallSeconds, or the default. */
export function stallMsFor(stallSeconds: number | undefined): number {
  return stallSeconds === undefined ? STALL_AFTER_CONNECTION_ERROR_MS : stallSeconds * 1000;
}

/** Why poof stopped rclone: the remote's error, and how long nothing had moved. */
export interface Stall {
  message: string;
  seconds: number;
}

/** Ask the remote whether it answers: the error when it does not, else undefined. */
export type Probe = (signal: AbortSignal) => Promise<string | undefined>;

/**
 * Stop rclone when the server has gone: a connection error followed by no byte moving and no
 * file finishing for stallMs (poof.conf rclone.stallSeconds); or, with no error logged, a quiet
 * spell after which a quick probe of the remote fails. Also forwards the user's interruption.
 */
export function watchConnection(cancelSignal: AbortSignal | undefined, stallMs: number, probe?: Probe) {
  const controller = new AbortController();
  const forward = () => controller.abort(cancelSignal?.reason);
  if (cancelSignal?.aborted) forward();
  cancelSignal?.addEventListener('abort', forward, { once: true });
  const started = Date.now();
  let firstError: { at: number; message: string; baseline?: number } | undefined;
  let stalled: Stall | undefined;
  // Anything moving at all (for the probe): the counters, even of failures, and finished files.
  let lastActivity = started;
  let activities = 0;
  let counters = -1;
  let probedAt: number | undefined;
  let probing = false;
  const probeAfterMs = Math.min(PROBE_AFTER_SILENCE_MS, stallMs);
  // A long quiet phase that is healthy (listing a huge bucket) is asked less and less often.
  let probeGap = probeAfterMs;
  const stop = (stall: Stall) => {
    stalled = stall;
    controller.abort(new Error('the remote stopped answering'));
  };
  const askRemote = (now: number) => {
    if (!probe || probing || now - lastActivity <= probeAfterMs) return;
    if (probedAt !== undefined && probedAt >= lastActivity && now - probedAt <= probeGap) return;
    probing = true;
    const before = activities;
    probe(controller.signal)
      .then((failure) => {
        probedAt = Date.now();
        // Something moved while the probe ran: rclone itself got an answer.
        if (failure && activities === before && !controller.signal.aborted) stop({ message: failure, seconds: Math.round((Date.now() - lastActivity) / 1000) });
        else probeGap = Math.min(probeGap * 2, 300_000);
      })
      .catch(() => {
        // A probe that could not run proves nothing.
      })
      .finally(() => (probing = false));
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (controller.signal.aborted) return;
    if (firstError && now - firstError.at > stallMs) stop({ message: firstError.message, seconds: Math.round(stallMs / 1000) });
    else askRemote(now);
  }, Math.min(1_000, Math.max(10, stallMs / 4)));
  timer.unref();
  return {
    signal: controller.signal,
    see(event: LogEvent) {
      const active = () => {
        lastActivity = Date.now();
        activities++;
        probeGap = probeAfterMs;
      };
      if (event.kind === 'file' && event.action !== 'skipped') active();
      if (event.kind === 'stats') {
        const total = event.stats.bytes + event.stats.checks + event.stats.transfers + event.stats.deletes;
        if (total > counters) {
          if (counters >= 0) active();
          counters = total;
        }
      }
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
