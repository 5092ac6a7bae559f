import { createWriteStream } from 'node:fs';

export interface LogFile {
  write(line: string): void;
  close(): Promise<void>;
}

/** Lines are written in batches of about this many characters... */
const BATCH_CHARS = 64 * 1024;
/** ...or after this long, so the file follows a slow run closely. */
const BATCH_MS = 250;

/** What rclone's JSON log lines of routine events hold (1.60 and 1.75 alike). */
const ROUTINE = '"level":"info"';

/**
 * rclone's log lines, appended to poof's log file through one private (0600) stream per run,
 * routine ones in batches: a write per line (10,000 on a first backup) cost more CPU than the
 * backup's own bookkeeping, taken from rclone while it copies.
 */
export function openLogFile(file: string): LogFile {
  const stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  stream.on('error', () => {
    // A full disk must not fail the backup itself; the run's result is still reported.
  });
  let pending: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    stream.write(pending.join(''));
    pending = [];
    size = 0;
  };
  return {
    write: (line) => {
      pending.push(`${line}\n`);
      size += line.length + 1;
      // Anything but rclone's routine per-file lines (errors, stats, poof's own notes) goes out
      // at once: someone watching the log sees a problem when it happens.
      if (size >= BATCH_CHARS || !line.includes(ROUTINE)) flush();
      else timer ??= setTimeout(flush, BATCH_MS).unref();
    },
    close: () => {
      flush();
      return new Promise((resolve) => stream.end(resolve));
    },
  };
}
