import type { RcloneTuning, SymlinkMode } from '../config/schema.js';

/** Flags every poof call passes: its own config (never ~/.config/rclone) and no prompts, ever. */
export function baseFlags(configFile: string): string[] {
  return ['--config', configFile, '--ask-password=false'];
}

/** rclone backend types whose objects carry file modes and owners with -M (rclone 1.60). */
const METADATA_BACKENDS = new Set(['local', 'alias', 's3']);
/** Backends with no directories of their own: empty directories cannot be kept there. */
const S3_LIKE = new Set(['s3', 'b2']);

/**
 * Pure: does rclone move a file on this storage by a server-side copy and a delete (S3, B2)?
 * Then every file a run moves into its history folder counts against --max-delete too.
 */
export function movesByCopy(backendType: string): boolean {
  return S3_LIKE.has(backendType);
}

/**
 * Pure: does this storage keep file modes with --metadata? SFTP keeps mtime only. Before rclone
 * 1.68.2, --metadata with --links set modes through the link: it made link targets, even outside
 * the mapping, world-writable (0777, CVE-2024-52522), so links mode keeps modes only from 1.68.2.
 */
export function keepsModes(backendType: string, crypt: boolean, symlinks?: SymlinkMode, linksWithMetadata = false): boolean {
  // On a local-directory "cloud" a link's mode (0777) would land on its NAME.rclonelink file there: world-writable.
  return METADATA_BACKENDS.has(backendType) && !crypt && (symlinks !== 'links' || (linksWithMetadata && !linksHereOnly({ symlinks, backendType, crypt })));
}

/**
 * Pure: measured defaults for a backend type. On S3-like remotes, --checksum skips one HEAD per
 * object on a no-change run (about 3.5x faster against s3rver) and --fast-list lists in one go.
 * Crypt remotes have no hashes, so --checksum would silently compare sizes only: never there.
 */
export function defaultTuning(backendType: string, crypt: boolean): RcloneTuning {
  if (S3_LIKE.has(backendType)) return crypt ? { fastList: true } : { checksum: true, fastList: true };
  return {};
}

/** Pure: poof's measured defaults for the storage, overridden by the user's poof.conf tuning. */
export function effectiveTuning(backendType: string, crypt: boolean, tuning: RcloneTuning | undefined): RcloneTuning {
  return { ...defaultTuning(backendType, crypt), ...tuning };
}

/**
 * What every transfer to or from one remote shares, worked out once when the remote is resolved
 * (rclone/remote.ts transferSettings): the builders below take it as it is and recompute nothing.
 */
export interface TransferSettings {
  configFile: string;
  /** The storage type under any crypt/alias wrapper: decides empty dirs. */
  backendType: string;
  crypt: boolean;
  symlinks?: SymlinkMode | undefined;
  excludes?: string[] | undefined;
  /** The tuning in force: poof's measured defaults for the storage, the user's poof.conf over them. */
  tuning: RcloneTuning;
  /** Keep modes (--metadata): the resolved remote's answer, which knows the rclone version. */
  keepsModes: boolean;
}

export interface SyncArgsInput extends TransferSettings {
  source: string;
  dest: string;
  dryRun?: boolean;
  /**
   * `rclone copy` instead of `sync`: never delete on the remote. Upload and every later backup
   * of an uploaded mapping use it, since their remote holds files that were wiped locally.
   */
  copyOnly?: boolean;
  /** A file of rclone filter lines to leave out (files that kept changing while read). */
  excludeFrom?: string | undefined;
  /** Copy exactly the files listed in this file (the retry of files that kept changing). */
  filesFrom?: string | undefined;
  /**
   * A complete rclone filter file used instead of the excludes (`poof watch`'s batches: the
   * excludes, then exactly the batch's files, then nothing else; see renderListedFilters).
   */
  filterFrom?: string | undefined;
  /** Send the listed files even when size and time match (a change the storage cannot show). */
  ignoreTimes?: boolean | undefined;
  /**
   * Keep what this run replaces or deletes: rclone moves it here (the run's folder under
   * .poof-history on the same remote, never inside the mirror) instead of overwriting it.
   */
  backupDir?: string | undefined;
  /**
   * poof counts the deletions itself before the run (a dry run), and rclone gets no --max-delete:
   * with history on S3-like storage, rclone would count every replaced file as a delete too.
   */
  deleteLimitByPoof?: boolean | undefined;
}

export interface RestoreArgsInput extends Omit<SyncArgsInput, 'source' | 'dest' | 'copyOnly'> {
  remotePath: string;
  localDir: string;
  /**
   * The restore itself: rclone copies into this staging directory inside the mapping, skipping
   * files already identical in the mapping (--compare-dest), and poof moves each complete file
   * into place. Without it, the argv is the planning dry run of a mirror.
   */
  stagingDir?: string | undefined;
}

/**
 * Where a restore stages files, inside the mapping (the same file system, so moving a finished
 * file into place is a rename). Every poof transfer excludes it, on both sides.
 */
export const STAGING_PREFIX = '.poof-restore-';
/** Staging directories are the prefix and 8 hex digits, so a user's own ".poof-restore-notes" is backed up. */
export const STAGING_NAME = new RegExp(`^${STAGING_PREFIX.replace(/\./g, '\\.')}[0-9a-f]{8}$`);
export const STAGING_EXCLUDE = `/${STAGING_PREFIX}${'[0-9a-f]'.repeat(8)}/**`;

/**
 * Pure: the argv of one backup `rclone sync LOCAL REMOTE`, logging JSON lines with stats every
 * second on stderr.
 */
export function buildSyncArgs(input: SyncArgsInput): string[] {
  const { tuning } = input;
  const copy = input.copyOnly || input.filesFrom !== undefined || input.filterFrom !== undefined;
  const args = [copy ? 'copy' : 'sync', hereSide(input, input.source), input.dest, ...transferFlags(input, tuning)];
  if (tuning.maxDelete !== undefined && !copy && !input.deleteLimitByPoof) args.push('--max-delete', String(tuning.maxDelete));
  if (tuning.maxDeleteSize !== undefined && !copy) args.push('--max-delete-size', tuning.maxDeleteSize);
  if (input.excludeFrom !== undefined) args.push('--exclude-from', input.excludeFrom);
  if (input.filesFrom !== undefined) args.push('--files-from-raw', input.filesFrom, '--no-traverse');
  if (input.filterFrom !== undefined) args.push('--no-traverse');
  if (input.ignoreTimes) args.push('--ignore-times');
  // rclone's own retries rerun the whole sync into the same folder, where a second move of a file
  // replaces the version the first kept: poof retries with a folder of its own instead.
  if (input.backupDir !== undefined) args.push('--backup-dir', input.backupDir, '--retries', '1');
  if (input.dryRun) args.push('--dry-run');
  return args;
}

/**
 * Pure: the argv of a restore. Planning: a dry run of `rclone sync REMOTE LOCAL` says exactly
 * what a mirror would restore, replace and delete. Restoring: `rclone copy REMOTE STAGING
 * --compare-dest LOCAL` writes only what differs, and only into the staging directory: rclone 1.60
 * writes local files in place, so an interrupted restore must never write under a real name.
 * The same flags as the backup, so both sides see the same tree (links followed the same way,
 * the same excludes, which also keep excluded local files from being deleted).
 */
export function buildRestoreArgs(input: RestoreArgsInput): string[] {
  const { tuning } = input;
  if (input.stagingDir === undefined) {
    // Where the storage keeps neither times nor hashes, a same-size local change is invisible to
    // rclone: every local file is then treated as different (and goes to the trash first).
    return ['sync', input.remotePath, hereSide(input, input.localDir), ...transferFlags(input, tuning), ...(input.ignoreTimes ? ['--ignore-times'] : []), '--dry-run'];
  }
  return ['copy', input.remotePath, hereSide(input, input.stagingDir), ...transferFlags(input, tuning), '--compare-dest', hereSide(input, input.localDir)];
}

/**
 * Pure: one pass of a restore of a past run: copy exactly the listed files (paths relative to
 * `source`, the mirror or one run's folder of kept versions) into the staging directory, with
 * the same flags as any restore (links, modes), so their times and modes come back too.
 */
export function buildListedRestoreArgs(input: Omit<RestoreArgsInput, 'remotePath' | 'localDir' | 'stagingDir'>, source: string, stagingDir: string, filesFrom: string): string[] {
  return ['copy', source, hereSide(input, stagingDir), ...transferFlags({ ...input, filesFrom }, input.tuning), '--files-from-raw', filesFrom, '--no-traverse'];
}

/** Pure: the flags a backup and a restore share. */
function transferFlags(input: Omit<SyncArgsInput, 'source' | 'dest'>, tuning: RcloneTuning): string[] {
  const args = [...baseFlags(input.configFile)];
  args.push('--use-json-log', '--stats', '1s', '--stats-log-level', 'NOTICE', '-v');
  // rclone waits 5 minutes of silence before giving up on a vanished server (1.60); an
  // unattended run should fail in reasonable time and say why.
  args.push('--contimeout', '30s', '--timeout', '2m');
  args.push(...linkFlags(input));
  if (!S3_LIKE.has(input.backendType)) args.push('--create-empty-src-dirs');
  if (input.keepsModes) args.push('--metadata');
  if (tuning.transfers !== undefined) args.push('--transfers', String(tuning.transfers));
  if (tuning.checkers !== undefined) args.push('--checkers', String(tuning.checkers));
  if (tuning.bwlimit !== undefined) args.push('--bwlimit', tuning.bwlimit);
  if (tuning.checksum && !input.crypt) args.push('--checksum');
  if (tuning.fastList) args.push('--fast-list');
  // rclone hashes every file it sends over SFTP by running md5sum over SSH, a shell start-up per
  // file: a first backup of 300 files took 17.9 s instead of 0.66 s here (root's shell), 2.9x
  // for a normal user's. SSH already checks every byte in transit, and the size is still checked.
  // Not with --checksum: without hashes rclone would compare sizes only, silently.
  if (input.backendType === 'sftp' && !tuning.hashCheck && !(tuning.checksum && !input.crypt)) args.push('--sftp-disable-hashcheck');
  // rclone refuses --files-from with any other filter (1.60): the list is exact and was filtered already.
  if ('filesFrom' in input && input.filesFrom !== undefined) return args;
  if ('filterFrom' in input && input.filterFrom !== undefined) return [...args, '--filter-from', input.filterFrom];
  return [...args, ...filterFlags(input.excludes)];
}

/** How rclone names a link kept as a link ("symlinks": "links"): the stored file `NAME.rclonelink`. */
export const LINK_SUFFIX = '.rclonelink';

/** What decides how each side of a transfer treats links: poof.conf's "symlinks", and the storage. */
export interface LinkSides {
  symlinks?: SymlinkMode | undefined;
  backendType?: string | undefined;
  crypt?: boolean | undefined;
}

/**
 * Pure: links kept as links where the remote is this machine's disk too (a local-directory
 * "cloud", not through crypt). rclone's --links would make a stored link a real link there,
 * which rclone 1.60 writes through when a file takes its name (into whatever it points to,
 * outside the backup), and both 1.60 and 1.75 replace a file with before keeping it. Only this
 * side translates links then (`:local,links=true:DIR`): the mirror stores `NAME.rclonelink`
 * files, as every other storage does, and nothing in it is ever a link.
 */
export function linksHereOnly(input: LinkSides): boolean {
  return input.symlinks === 'links' && !input.crypt && (input.backendType === 'local' || input.backendType === 'alias');
}

/** Pure: a directory of this machine as rclone is to read or write it (see linksHereOnly). */
export function hereSide(input: LinkSides, dir: string): string {
  return linksHereOnly(input) ? `:local,links=true:${dir}` : dir;
}

/** Pure: the global flag that says what rclone does with links; none where only this side translates them. */
export function linkFlags(input: LinkSides): string[] {
  return linksHereOnly(input) ? [] : [linkFlag(input.symlinks)];
}

function linkFlag(symlinks: SymlinkMode | undefined): string {
  const mode = symlinks ?? 'follow';
  return mode === 'follow' ? '--copy-links' : mode === 'links' ? '--links' : '--skip-links';
}

/** The user's excludes, then restore staging directories, which no transfer ever touches. */
/** Pure: the user's excludes and restore staging as rclone filter lines (a filter file's first rules). */
export function renderExcludeFilters(excludes: string[] | undefined): string {
  return `${[...(excludes ?? []), STAGING_EXCLUDE].map((pattern) => `- ${pattern}`).join('\n')}\n`;
}

/**
 * Pure: a filter file that copies exactly the listed files the excludes let through. rclone
 * refuses --files-from with any other filter, and a list of changed files is not filtered yet:
 * so the excludes come first (first match wins), then each file as an exact rule, then nothing
 * else. rclone lists only the folders that can hold a listed file (measured: it opened one
 * folder of 300 for one file), so no walk of the tree either.
 */
export function renderListedFilters(excludes: string[] | undefined, files: string[]): string {
  return `${renderExcludeFilters(excludes)}${files.map((file) => `+ ${exactFilterLine(file)}\n`).join('')}- **\n`;
}

function filterFlags(excludes: string[] | undefined): string[] {
  return [...(excludes ?? []).flatMap((pattern) => ['--exclude', pattern]), '--exclude', STAGING_EXCLUDE];
}

/** Pure: `rclone size --json` of a remote path, to refuse restoring from a missing or empty copy. */
export function buildSizeArgs(configFile: string, remotePath: string, excludes: string[] = [], fastList = false): string[] {
  const args = ['size', remotePath, '--json', ...baseFlags(configFile), '--contimeout', '30s', '--timeout', '2m'];
  if (fastList) args.push('--fast-list');
  for (const pattern of excludes) args.push('--exclude', pattern);
  return args;
}

/** How long a quick probe may wait: a dead server must fail in seconds (verify), or in minutes (a run). */
export type Patience = 'quick' | 'run';

function patienceFlags(patience: Patience): string[] {
  return patience === 'quick'
    ? ['--contimeout', '15s', '--timeout', '30s', '--retries', '1', '--low-level-retries', '2']
    : ['--contimeout', '30s', '--timeout', '2m'];
}

/** Pure: `rclone lsf` of one level of a remote path. */
export function buildListArgs(configFile: string, target: string, patience: Patience): string[] {
  return ['lsf', target, '--max-depth', '1', ...baseFlags(configFile), ...patienceFlags(patience)];
}

/** Pure: `rclone rcat` (write stdin to a remote file) or `rclone cat` (read it back). */
export function buildCatArgs(command: 'cat' | 'rcat', configFile: string, target: string, patience: Patience): string[] {
  return [command, target, ...baseFlags(configFile), ...patienceFlags(patience)];
}

/**
 * Pure: an rclone filter line matching exactly one file, anchored at the root: the glob
 * characters in its name are escaped, so "a[1].txt" matches only itself, and "notes " is not
 * trimmed to "notes".
 */
export function exactFilterLine(file: string): string {
  // rclone trims each line of a filter file: white space at the end of a name goes in a class.
  return `/${file.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`).replace(/\s+$/, (tail) => [...tail].map((c) => `[${c}]`).join(''))}`;
}

/**
 * Pure: `rclone lsjson -R` of one side of a backup as its sync sees it (the same links and
 * excludes), without times or types: which names are folders.
 */
export function buildTreeListArgs(input: Pick<SyncArgsInput, 'configFile' | 'symlinks' | 'excludes' | 'backendType' | 'crypt'>, target: string, filtered = true, here = false): string[] {
  return ['lsjson', here ? hereSide(input, target) : target, '-R', '--no-modtime', '--no-mimetype', ...baseFlags(input.configFile), ...patienceFlags('run'), ...linkFlags(input), ...(filtered ? filterFlags(input.excludes) : [])];
}

/** Pure: one rclone command on paths of a remote (moveto, rmdirs, purge, deletefile), links as the backup sees them and no filter: it takes the path whole. */
export function buildPathCommandArgs(input: Pick<SyncArgsInput, 'configFile' | 'symlinks' | 'backendType' | 'crypt'>, command: string[]): string[] {
  return [...command, ...baseFlags(input.configFile), ...patienceFlags('run'), ...linkFlags(input)];
}

/** Pure: `rclone backend features REMOTE:`, to learn how the storage can show a change. */
export function buildFeaturesArgs(configFile: string, remoteRoot: string): string[] {
  // Quick: rclone's ten low-level retries made a dead SFTP server cost 11 s here before the run
  // itself tried (measured); without an answer the run assumes times are kept and goes on.
  return ['backend', 'features', remoteRoot, ...baseFlags(configFile), ...patienceFlags('quick')];
}

/**
 * Pure: `rclone lsjson` of a local tree as a backup sees it (the same links and excludes),
 * with modes: what poof records as sent after a backup, to find changes the storage cannot show.
 */
export function buildLocalListArgs(input: Pick<SyncArgsInput, 'configFile' | 'source' | 'symlinks' | 'excludes' | 'backendType' | 'crypt'>, modes = true): string[] {
  return ['lsjson', hereSide(input, input.source), '-R', '--files-only', ...(modes ? ['-M'] : []), ...baseFlags(input.configFile), ...linkFlags(input), ...filterFlags(input.excludes)];
}
