import { baseFlags } from './args.js';

/** The folder beside the mapped directories that holds every run's replaced versions and manifests. */
export const HISTORY_DIR = '.poof-history';

/** Pure: `remote:bucket/.poof-history` (`crypt:.poof-history` on a crypt remote: encrypted too). */
export function historyRoot(root: string): string {
  return root.endsWith(':') ? `${root}${HISTORY_DIR}` : `${root}/${HISTORY_DIR}`;
}

/** Pure: where run `runId` keeps what it replaced or deleted in mapping `name` (its later passes: `<run id>-2`, ...). */
export function historyFolder(root: string, runId: string, name: string): string {
  return `${historyRoot(root)}/${runId}/${name}`;
}

/** Pure: where run `runId` keeps its manifest of mapping `name`, beside that folder. */
export function manifestPath(root: string, runId: string, name: string): string {
  return `${historyRoot(root)}/${runId}/${manifestName(name)}`;
}

/** Pure: a manifest's file name; `.run.json.gz` after the mapping's name. */
export function manifestName(name: string): string {
  return `${name}.run.json.gz`;
}

const RUN_FLAGS = ['--contimeout', '30s', '--timeout', '2m'];

/** Pure: `rclone lsf` of the history two levels deep: each run's records and folders, not their files. */
export function buildHistoryOutlineArgs(configFile: string, root: string): string[] {
  return ['lsf', historyRoot(root), '-R', '--max-depth', '2', ...baseFlags(configFile), ...RUN_FLAGS];
}

/**
 * Pure: `rclone lsjson -R --files-only` of the whole history: every kept version and manifest
 * in one listing (one request per thousand objects on S3 with --fast-list).
 */
export function buildHistoryListArgs(configFile: string, root: string, fastList: boolean): string[] {
  return ['lsjson', historyRoot(root), '-R', '--files-only', ...baseFlags(configFile), ...RUN_FLAGS, ...(fastList ? ['--fast-list'] : [])];
}

/**
 * Pure: copy the listed files (paths relative to `from`) into a local directory, exactly those
 * (--files-from, --no-traverse): manifests into a cache, or one run's versions into a restore's
 * staging directory. Times (and modes where kept) come with them.
 */
export function buildCopyListedArgs(configFile: string, from: string, to: string, filesFrom: string, metadata: boolean): string[] {
  return ['copy', from, to, '--files-from-raw', filesFrom, '--no-traverse', ...baseFlags(configFile), ...RUN_FLAGS, '--use-json-log', '--stats', '1s', '--stats-log-level', 'NOTICE', '-v', ...(metadata ? ['--metadata'] : [])];
}

/**
 * Pure: `rclone rcat REMOTE`: stdin to one remote name (a manifest). Held in memory until stdin
 * ends (up to 64 MiB) and then sent in one piece, so an rcat stopped by a signal before that
 * writes nothing.
 */
export function buildPutStdinArgs(configFile: string, remoteFile: string): string[] {
  return ['rcat', remoteFile, '--streaming-upload-cutoff', '64M', ...baseFlags(configFile), ...RUN_FLAGS];
}

/** Pure: `rclone copyto LOCAL REMOTE`: one file to one remote name (a manifest). */
export function buildPutFileArgs(configFile: string, localFile: string, remoteFile: string): string[] {
  return ['copyto', localFile, remoteFile, ...baseFlags(configFile), ...RUN_FLAGS];
}

/** Pure: delete exactly the listed files below `root` (a prune), leaving the folders rclone empties. */
export function buildDeleteListedArgs(configFile: string, root: string, filesFrom: string): string[] {
  return ['delete', root, '--files-from-raw', filesFrom, '--no-traverse', ...baseFlags(configFile), ...RUN_FLAGS, '--use-json-log', '-v'];
}

/** Pure: remove the empty folders a prune left below `root` (the history root itself stays). */
export function buildRemoveEmptyDirsArgs(configFile: string, root: string): string[] {
  return ['rmdirs', root, '--leave-root', ...baseFlags(configFile), ...RUN_FLAGS];
}

/**
 * Pure: `rclone lsjson -R --files-only` of one mapping's mirror, as a restore sees it (the same
 * excludes): the tree a run's manifest records.
 */
export function buildMirrorListArgs(configFile: string, remotePath: string, excludes: string[] = [], fastList = false): string[] {
  return ['lsjson', remotePath, '-R', '--files-only', ...baseFlags(configFile), ...RUN_FLAGS, ...(fastList ? ['--fast-list'] : []), ...excludes.flatMap((pattern) => ['--exclude', pattern])];
}

/**
 * Pure: `rclone lsjson` of just the listed files of a mirror, each looked up by name (--files-from
 * with --no-traverse: without it s3rver answers nothing, on 1.60 and 1.75 alike). Over SFTP each
 * parallel lookup opens an SSH connection of its own (measured: 100 files by name took 0.78 s with
 * rclone's 8 checkers, 0.10 s with one, against `rclone serve sftp`), so one per 250 files there.
 */
export function buildMirrorLookupArgs(configFile: string, remotePath: string, filesFrom: string, count: number, storageType: string): string[] {
  const checkers = storageType === 'sftp' ? ['--checkers', String(Math.min(8, 1 + Math.floor(count / 250)))] : [];
  return [...buildMirrorListArgs(configFile, remotePath), '--files-from-raw', filesFrom, '--no-traverse', ...checkers];
}
