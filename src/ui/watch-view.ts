import type { Context } from '../context.js';
import type { WatchReport } from '../watch/run.js';

/** Pure: a time as the user's local `HH:MM:SS`. */
function clock(at: number): string {
  const t = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

function files(n: number): string {
  return `${n} ${n === 1 ? 'file' : 'files'}`;
}

/** Pure: the line a report is told in (undefined: it only changes the status line). */
export function watchLine(report: WatchReport): string | undefined {
  switch (report.kind) {
    case 'watching':
      return `watching ${report.names.length} ${report.names.length === 1 ? 'directory' : 'directories'} (${report.names.join(', ')}); Ctrl-C stops`;
    case 'unwatched':
      return `${report.name}: cannot be watched (${report.reason})${report.advice ? `: ${report.advice}` : ''}; backed up in full every ${Math.round(report.everyMs / 60_000)} min instead`;
    case 'copied':
      return `${report.name}: copied ${files(report.files)}`;
    case 'backed-up':
      return `${report.name}: full backup done (${files(report.copied)} copied)`;
    case 'failed':
      if (report.held) return `${report.name}: full backup FAILED: ${report.reason}; no more full backups of ${report.name} until poof watch starts again (changed files are still copied)`;
      return `${report.name}: ${report.full ? 'full backup' : 'copy'} FAILED: ${report.reason}; trying again in ${Math.max(1, Math.round(report.retryInMs / 1000))} s`;
    case 'rewatched':
      return `${report.name}: its folder is back (mounted again?): watched again, and backed up in full once calm`;
    case 'waiting':
      return `waiting: ${report.holder}`;
    case 'queue':
      return undefined;
    case 'stopped':
      return `stopping: ${report.reason}`;
  }
}

/** Pure: the live status line on a terminal. */
export function watchStatus(state: { watching: number; lastCopy?: { name: string; files: number; at: number }; waiting: number }): string {
  const last = state.lastCopy ? `last copy ${clock(state.lastCopy.at)} (${state.lastCopy.name}, ${files(state.lastCopy.files)})` : 'nothing copied yet';
  return `watching ${state.watching} ${state.watching === 1 ? 'directory' : 'directories'} · ${last} · ${state.waiting} waiting`;
}

/**
 * What `poof watch` shows: on a terminal, one live status line (watching, last copy, queue) with
 * every event worth keeping printed above it; otherwise (a service's log) one timestamped line
 * per event. --quiet: failures only.
 */
export function createWatchView(ctx: Context, quiet: boolean): { report: (report: WatchReport) => void; finish: () => void } {
  const live = ctx.stdoutIsTTY && !quiet;
  const state: Parameters<typeof watchStatus>[0] = { watching: 0, waiting: 0 };
  let shown = false;
  let lastWaiting = '';
  const redraw = () => {
    process.stdout.write(`\r\u001b[K${watchStatus(state)}`);
    shown = true;
  };
  const clear = () => {
    if (shown) process.stdout.write('\r\u001b[K');
    shown = false;
  };
  return {
    report: (report) => {
      if (report.kind === 'watching') state.watching = report.names.length;
      // The time shown is the wall clock's when it is reported (report times are a steady clock's).
      if (report.kind === 'copied') state.lastCopy = { name: report.name, files: report.files, at: Date.now() };
      if (report.kind === 'queue') state.waiting = report.waiting;
      const line = watchLine(report);
      const problem = report.kind === 'failed' || report.kind === 'unwatched' || report.kind === 'stopped';
      // The same holder, asked again every few seconds: said once.
      if (report.kind === 'waiting') {
        if (report.holder === lastWaiting) return live ? redraw() : undefined;
        lastWaiting = report.holder;
      } else if (report.kind !== 'queue') lastWaiting = '';
      if (line && (problem || !quiet)) {
        if (live) clear();
        const stamped = live ? line : `${new Date().toISOString().slice(0, 19).replace('T', ' ')} ${line}`;
        if (problem) ctx.err(`poof: ${stamped}`);
        else ctx.out(stamped);
      }
      if (live) redraw();
    },
    finish: () => {
      if (live) clear();
    },
  };
}
