import type { RcloneTuning } from '../config/schema.js';
import { baseFlags } from '../rclone/args.js';
import { buildMirrorLookupArgs } from '../rclone/history-args.js';
import { RUN_ID } from '../versions/run-id.js';

/**
 * Append-only backups live beside the mapped directories in one folder that only ever gains
 * objects: `data/00` .. `data/ff` hold every file's content once, named by its SHA-256
 * (content-addressed, so an unchanged file is never sent again, by any run or mapping), and
 * `runs/` holds one record per run and mapping: the whole tree after that run (path, size, time,
 * mode, hash). Nothing is ever overwritten, renamed or deleted by a backup, so the storage can
 * refuse all three to the laptop's key, and every folder a backup writes into can be made
 * beforehand (restic's layout does the same).
 */
export const VAULT_DIR = '.poof-vault';

/** Pure: `remote:bucket/.poof-vault` (`crypt:.poof-vault` on a crypt remote). */
export function vaultRoot(root: string): string {
  return root.endsWith(':') ? `${root}${VAULT_DIR}` : `${root}/${VAULT_DIR}`;
}

export function dataRoot(root: string): string {
  return `${vaultRoot(root)}/data`;
}

export function runsRoot(root: string): string {
  return `${vaultRoot(root)}/runs`;
}

/*
 * An object's name is its content's SHA-256, or, when an object of that name exists already (left
 * by a run killed mid-upload, or written by someone else: poof cannot prove what it holds), the
 * hash and the run that stored it (`<sha256>.<run id>`): never the same name twice. A record
 * naming anything else is damaged (versions/manifest.ts decodeManifest).
 */

/** Pure: where an object is below data/. */
export function objectPath(key: string): string {
  return `${key.slice(0, 2)}/${key}`;
}

/** Pure: a record's name in runs/: `<run id>.<NAME>.run.json.gz`. */
export function vaultRecordName(runId: string, mapping: string): string {
  return `${runId}.${mapping}.run.json.gz`;
}

/** Pure: the run and mapping a name in runs/ stands for, if it is a record. */
export function parseVaultRecordName(name: string): { runId: string; mapping: string } | undefined {
  const match = /^(\d{8}T\d{6}Z)\.(.+)\.run\.json\.gz$/.exec(name);
  if (!match || !RUN_ID.test(match[1]!)) return undefined;
  return { runId: match[1]!, mapping: match[2]! };
}

/**
 * How far ahead of this machine's clock a run id may be and still count as a real run (clocks of
 * two machines differ): later ones are whoever holds the key's word, kept but never built on.
 */
export const FUTURE_ALLOWANCE_MS = 10 * 60_000;

const RUN_FLAGS = ['--contimeout', '30s', '--timeout', '2m'];

/** How a backup writes: never over anything, never through a rename or a time set afterwards. */
export interface WriteFlags {
  /** rclone 1.63+: uploads go through a ".partial" name and a rename unless --inplace. */
  partialUploads: boolean;
  /** rclone 1.66+: copies set directories' times unless --no-update-dir-modtime. */
  directoryTimes: boolean;
}

/**
 * Pure: the flags of every write into the vault. --ignore-existing: an object already there is
 * never replaced (the storage may refuse it anyway). --inplace (1.63+): no ".partial" name and
 * rename, which a server that denies renames refuses; a cut-short object is never trusted (the
 * backup proves each one it uses). No time set on directories (1.66+) or, over SFTP, on files:
 * setting one is an SFTP setstat, which a write-only server refuses.
 */
export function vaultWriteFlags(flags: WriteFlags): string[] {
  return ['--ignore-existing', '--sftp-set-modtime=false', ...(flags.partialUploads ? ['--inplace'] : []), ...(flags.directoryTimes ? ['--no-update-dir-modtime'] : [])];
}

/**
 * Pure: send the objects listed in `filesFrom` (`xx/<key>` below the staging folder of links to
 * the local files) into data/, following the links.
 */
export function buildObjectCopyArgs(configFile: string, staging: string, root: string, filesFrom: string, flags: WriteFlags, tuning: Pick<RcloneTuning, 'transfers' | 'checkers' | 'bwlimit'> = {}): string[] {
  return [
    'copy', staging, dataRoot(root), '--files-from-raw', filesFrom, '--no-traverse', '--copy-links',
    ...vaultWriteFlags(flags), '--sftp-disable-hashcheck', ...baseFlags(configFile), ...RUN_FLAGS,
    '--use-json-log', '--stats', '1s', '--stats-log-level', 'NOTICE', '-v',
    ...(tuning.transfers !== undefined ? ['--transfers', String(tuning.transfers)] : []),
    ...(tuning.checkers !== undefined ? ['--checkers', String(tuning.checkers)] : []),
    ...(tuning.bwlimit !== undefined ? ['--bwlimit', tuning.bwlimit] : []),
  ];
}

/** Pure: the listed objects (`xx/<key>`) as stored, with their MD5 where the storage has one. */
export function buildObjectLookupArgs(configFile: string, root: string, filesFrom: string, count: number, storageType: string, md5: boolean): string[] {
  return [...buildMirrorLookupArgs(configFile, dataRoot(root), filesFrom, count, storageType), ...(md5 ? ['--hash-type', 'md5'] : [])];
}

/** Pure: one run's record, from a local file, to its name in runs/ (never over another). */
export function buildRecordPutArgs(configFile: string, localFile: string, root: string, name: string, flags: WriteFlags): string[] {
  return ['copyto', localFile, `${runsRoot(root)}/${name}`, ...vaultWriteFlags(flags), ...baseFlags(configFile), ...RUN_FLAGS, '-v'];
}

/** Pure: the names in runs/. */
export function buildRunsListArgs(configFile: string, root: string): string[] {
  return ['lsf', runsRoot(root), '--files-only', ...baseFlags(configFile), ...RUN_FLAGS];
}
