/** The stats object rclone puts on its JSON stats lines; every field may be missing. */
export interface RcloneStats {
  bytes: number;
  totalBytes: number;
  transfers: number;
  totalTransfers: number;
  checks: number;
  deletes: number;
  errors: number;
  elapsedTime: number;
  speed: number;
  eta: number | null;
  /** Names of the files being transferred at this moment. */
  transferring: string[];
}

export type LogEvent =
  | { kind: 'stats'; stats: RcloneStats }
  | { kind: 'file'; action: FileAction; object: string; message: string; size?: number; directory?: true }
  | { kind: 'error'; message: string; object?: string }
  | { kind: 'other'; level: string; message: string }
  | { kind: 'text'; text: string };

/**
 * Pure: one stderr line of `rclone --use-json-log`. Defensive: field names changed across
 * versions, and non-JSON lines (panics, Go runtime messages) must survive as text.
 */
export function parseLogLine(line: string): LogEvent | undefined {
  const trimmed = line.trim();
  if (trimmed === '') return undefined;
  let entry: Record<string, unknown>;
  try {
    const parsed = JSON.parse(trimmed) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return textEvent(trimmed);
    entry = parsed as Record<string, unknown>;
  } catch {
    return textEvent(trimmed);
  }
  const level = String(entry.level ?? '');
  const message = String(entry.msg ?? '').trim();
  const object = typeof entry.object === 'string' ? entry.object : undefined;
  if (typeof entry.stats === 'object' && entry.stats !== null) return { kind: 'stats', stats: readStats(entry.stats as Record<string, unknown>) };
  if (level === 'error' || level === 'critical' || level === 'fatal') return { kind: 'error', message, ...(object !== undefined ? { object } : {}) };
  if (object !== undefined) {
    const action = fileAction(message);
    // rclone 1.75 logs directory metadata updates too ("Updated directory metadata", objectType
    // *local.Directory or string): they are no file a user would count.
    const directory = typeof entry.objectType === 'string' && (/Directory|^string$/.test(entry.objectType) || /directory/i.test(message));
    if (action) return { kind: 'file', action, object, message, ...(typeof entry.size === 'number' ? { size: entry.size } : {}), ...(directory ? { directory: true as const } : {}) };
  }
  return { kind: 'other', level, message };
}

/** rclone 1.60 prints some fatal errors ("Failed to create file system ...") as plain text even with --use-json-log. */
function textEvent(line: string): LogEvent {
  const text = stripTimestamp(line);
  if (/^(Failed|ERROR|CRITICAL|NOTICE: Fatal|panic|fatal error)/.test(text)) return { kind: 'error', message: text };
  return { kind: 'text', text };
}

/** Pure: a log line without rclone's "2026/11/22 13:34:02 " prefix. */
export function stripTimestamp(line: string): string {
  return line.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(\.\d+)? /, '').trim();
}

/**
 * What rclone did to one file. With --backup-dir, a replaced or deleted file moves into the run's
 * folder: a rename where the storage can ("Moved (server-side)", not counted), or on S3 a
 * server-side copy and a delete ("Copied (server-side copy)", then "Deleted"), so those two say
 * nothing about the user's files; a deletion of the user's is then "Moved into backup dir".
 */
export type FileAction = 'copied' | 'deleted' | 'updated' | 'skipped' | 'server-copied' | 'archived' | 'moved';

function fileAction(message: string): FileAction | undefined {
  if (/^Skipped /.test(message)) return 'skipped';
  if (/^Copied \(server[- ]side copy\)/.test(message)) return 'server-copied';
  if (/^Moved into backup dir/.test(message)) return 'archived';
  if (/^Moved \(server-side\)/.test(message)) return 'moved';
  if (/^Copied/.test(message)) return 'copied';
  if (/^Deleted/.test(message)) return 'deleted';
  if (/^Updated/.test(message)) return 'updated';
  return undefined;
}

function readStats(raw: Record<string, unknown>): RcloneStats {
  const num = (key: string) => (typeof raw[key] === 'number' ? (raw[key] as number) : 0);
  return {
    bytes: num('bytes'),
    totalBytes: num('totalBytes'),
    transfers: num('transfers'),
    totalTransfers: num('totalTransfers'),
    checks: num('checks'),
    deletes: num('deletes'),
    errors: num('errors'),
    elapsedTime: num('elapsedTime'),
    speed: num('speed'),
    eta: typeof raw.eta === 'number' ? raw.eta : null,
    transferring: Array.isArray(raw.transferring)
      ? raw.transferring.flatMap((t: unknown) => (typeof t === 'object' && t !== null && typeof (t as { name?: unknown }).name === 'string' ? [(t as { name: string }).name] : []))
      : [],
  };
}

/** What a `--dry-run` would have done to one object. */
export type DryRunAction = 'copy' | 'delete' | 'touch' | 'directory';

/**
 * Pure: the action behind a "Skipped ... as --dry-run is set" message (rclone 1.60 also gives it
 * in a `skipped` field, but older and newer versions word their fields differently; the message
 * has stayed the same).
 */
export function dryRunAction(message: string): DryRunAction | undefined {
  const match = /^Skipped (.+?) as --dry-run/.exec(message);
  if (!match) return undefined;
  const what = match[1] ?? '';
  if (/^(copy|server[- ]side copy)/.test(what)) return 'copy';
  if (/^delete/.test(what)) return 'delete';
  if (/modification time/.test(what)) return 'touch';
  if (/directory/.test(what)) return 'directory';
  return undefined;
}

/** Pure: the line of rclone's plain-text stderr that says why it failed (else the last line). */
export function lastErrorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map(stripTimestamp)
    .filter((l) => l !== '');
  const failed = [...lines].reverse().find((l) => /^(Failed|ERROR|CRITICAL)/.test(l));
  return (failed ?? lines[lines.length - 1] ?? 'no error message').slice(0, 400);
}
