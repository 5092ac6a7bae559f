import { createWriteStream } from 'node:fs';

export interface LogFile {
  write(line: string): void;
  close(): Promise<void>;
}

/** rclone's log lines, appended to poof's log file through one private (0600) stream per run. */
export function openLogFile(file: string): LogFile {
  const stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
  stream.on('error', () => {
    // A full disk must not fail the backup itself; the run's result is still reported.
  });
  return {
    write: (line) => void stream.write(`${line}\n`),
    close: () => new Promise((resolve) => stream.end(resolve)),
  };
}
