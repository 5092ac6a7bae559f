import { baseFlags, renderExcludeFilters } from '../rclone/args.js';
import type { Capabilities } from '../rclone/capabilities.js';

/**
 * The file poof keeps at the top of both sides of a two-way mapping. bisync's --check-access
 * stops a run where it is missing on either side: a wrong remote, an unmounted disk, or a crypt
 * remote opened with other keys (which rclone 1.60 lists as empty) would otherwise look like
 * every file deleted on that side.
 */
export const SYNC_CHECK_FILE = '.poof-sync-check';
/** Beside the mappings on the remote: what `poof sync` replaced or deleted there, by run and mapping. */
export const SYNC_KEPT_DIR = '.poof-sync-kept';
/** The default share of a mapping's files one sync may delete on either side (issue: 10%). */
export const DEFAULT_SYNC_MAX_DELETE = 10;

export interface BisyncInput {
  configFile: string;
  local: string;
  remote: string;
  workdir: string;
  /** A file of rclone filter lines (the user's excludes, restore staging): bisync notices when it changes. */
  filtersFile: string;
  maxDeletePercent: number;
  capabilities: Pick<Capabilities, 'bisyncSafetyFlags'>;
  resync?: boolean | undefined;
  dryRun?: boolean | undefined;
  /** poof.conf's rclone.bwlimit, as for every transfer. */
  bwlimit?: string | undefined;
  /**
   * rclone 1.66+: where what the sync replaces or deletes goes instead, on each side (each on
   * its own side: a local folder, and a folder on the same remote beside the mappings).
   */
  keep?: { local: string; remote: string } | undefined;
}

/**
 * Pure: the argv of one `rclone bisync LOCAL REMOTE`. Path1 is always the local directory.
 * - --check-access with poof's own check file, and a max-delete share (bisync's is a percentage).
 * - No link flag: links are not synced either way (following one would let a change from the
 *   server write through it, outside the mapping).
 * - rclone 1.66+: --resilient and --recover (an interrupted run is picked up without --resync),
 *   and conflicts kept as two renamed copies, said explicitly (--conflict-resolve none).
 */
export function buildBisyncArgs(input: BisyncInput): string[] {
  const args = [
    'bisync',
    input.local,
    input.remote,
    ...baseFlags(input.configFile),
    '--workdir',
    input.workdir,
    '--check-access',
    '--check-filename',
    SYNC_CHECK_FILE,
    '--max-delete',
    String(input.maxDeletePercent),
    '--filters-file',
    input.filtersFile,
    '--use-json-log',
    '--stats',
    '0',
    '-v',
    '--contimeout',
    '30s',
    '--timeout',
    '2m',
  ];
  if (input.capabilities.bisyncSafetyFlags) {
    args.push('--resilient', '--recover', '--conflict-resolve', 'none');
    if (input.keep) args.push('--backup-dir1', input.keep.local, '--backup-dir2', input.keep.remote);
  }
  if (input.bwlimit !== undefined) args.push('--bwlimit', input.bwlimit);
  if (input.resync) args.push('--resync');
  if (input.dryRun) args.push('--dry-run');
  return args;
}

/** Pure: the filters file of a two-way mapping: the user's excludes and restore staging, as rclone filter lines. */
export const renderSyncFilters = renderExcludeFilters;

export interface BisyncOutcome {
  status: 'ok' | 'failed';
  /** Files copied to the remote (Path2) and to this machine (Path1). */
  toRemote: number;
  toLocal: number;
  deleted: number;
  /** Files changed on both sides: both copies kept, under new names. */
  conflicts: number;
  /** Why it failed, in the user's words, with what to do. */
  reason?: string;
  /** bisync lost its listings: only a --resync brings it back. */
  needsResync?: boolean;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Pure: the message of one stderr line, JSON-logged or plain, without colours. */
export function bisyncMessage(line: string): string {
  let text = line;
  if (line.startsWith('{')) {
    try {
      text = String((JSON.parse(line) as { msg?: unknown }).msg ?? '');
    } catch {
      // A plain line after all.
    }
  }
  return text.replace(ANSI, '');
}

/** Pure: what one bisync run did, from its exit code and its messages (rclone 1.60 and 1.66+ word them alike). */
export function judgeBisync(exitCode: number, messages: string[], name: string, maxDeletePercent: number): BisyncOutcome {
  const count = (pattern: RegExp) => messages.filter((m) => pattern.test(m)).length;
  const counts = {
    toRemote: count(/Queue copy to Path2/),
    toLocal: count(/Queue copy to Path1/),
    deleted: count(/Queue delete/),
    conflicts: count(/New or changed in both paths/),
  };
  if (exitCode === 0 && !messages.some((m) => /Bisync aborted|Bisync critical error|Failed to bisync/.test(m))) return { status: 'ok', ...counts };
  const nothingChanged = { toRemote: 0, toLocal: 0, deleted: 0, conflicts: 0 };
  if (messages.some((m) => /too many deletes/.test(m))) {
    return {
      status: 'failed',
      ...nothingChanged,
      reason: `stopped: it would delete more than ${maxDeletePercent}% of ${name}'s files on one side, so nothing was changed; if those deletions are meant, run \`poof sync --only ${name} --max-delete 100\``,
    };
  }
  if (messages.some((m) => /Access test failed|check file check failed/.test(m))) {
    return {
      status: 'failed',
      ...nothingChanged,
      reason: `stopped: ${SYNC_CHECK_FILE} is missing on one side (the wrong remote, a disk not mounted, or other crypt keys?), so nothing was changed; check with \`poof verify\`, then \`poof sync --only ${name} --resync\` puts it back`,
    };
  }
  if (messages.some((m) => /Must run --resync|cannot find prior Path1 or Path2 listings/.test(m))) {
    return { status: 'failed', ...nothingChanged, needsResync: true, reason: `rclone bisync lost track of ${name} (an earlier run was cut short?): run \`poof sync --only ${name} --resync\`, which keeps both copies of any file that differs` };
  }
  const last = [...messages].reverse().find((m) => /ERROR|Failed|error/i.test(m)) ?? `rclone bisync exited ${exitCode}`;
  return { status: 'failed', ...counts, reason: `rclone bisync failed (exit ${exitCode}): ${last.replace(/^.*?(ERROR|NOTICE)\s*:\s*/, '')}` };
}

/**
 * Pure: from a `bisync --dry-run -v` of rclone before 1.66 (which has no backup dirs), the files
 * the real run will replace or delete: a file changed or deleted on Path1 (here) replaces or
 * deletes the remote's copy, and one changed or deleted on Path2 (the remote) replaces or deletes
 * this machine's. New files replace nothing (new on both sides is a conflict: both kept).
 */
export function plannedReplacements(messages: string[]): { remoteCopies: string[]; localCopies: string[]; unreadable: string[] } {
  const remoteCopies: string[] = [];
  const localCopies: string[] = [];
  const unreadable: string[] = [];
  for (const message of messages) {
    const found = /- Path([12])\s+File (?:was deleted|is newer|is older|size differs|changed)\s+- (.+)$/i.exec(message);
    if (!found) continue;
    const name = unquoted(found[2]!);
    if (name === undefined) unreadable.push(found[2]!);
    else (found[1] === '1' ? remoteCopies : localCopies).push(name);
  }
  return { remoteCopies, localCopies, unreadable };
}

/**
 * Pure: a name as rclone printed it. It quotes one holding a quote, a backslash or bytes that are
 * not UTF-8 (Go's %q): JSON reads the escapes both share; Go's own (\x, \a, \v) are not read.
 */
function unquoted(printed: string): string | undefined {
  if (!printed.startsWith('"')) return printed;
  try {
    const name = JSON.parse(printed) as unknown;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Pure: the files of a bisync listing (`<workdir>/*.path1.lst`, `*.path2.lst`): one line per file,
 * `- SIZE HASH - TIME "PATH"` (rclone 1.60 and 1.66+), the path quoted as Go quotes it.
 */
export function listedFiles(listing: string): string[] {
  const files: string[] = [];
  for (const line of listing.split('\n')) {
    if (!line.startsWith('-')) continue;
    const quoted = /"(?:[^"\\]|\\.)*"$/.exec(line)?.[0];
    if (!quoted) continue;
    try {
      files.push(JSON.parse(quoted) as string);
    } catch {
      // A name Go quoted with an escape JSON lacks: not checked (bisync reads it).
    }
  }
  return files;
}
