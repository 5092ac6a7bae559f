import { createHash } from 'node:crypto';
import path from 'node:path';
import { ENCODED_BY_RCLONE } from '../fs/local-tree.js';
import type { PoofConfig, RcloneTuning } from '../config/schema.js';
import { buildListArgs, effectiveTuning, keepsModes, type TransferSettings } from './args.js';
import type { Capabilities } from './capabilities.js';
import type { RcloneSection } from './ini.js';
import { isCrypt, remotePathFor, remoteRoot } from './remote-path.js';

/**
 * Everything a run needs to know about the remote, worked out once from both config files:
 * plain or crypt, what a crypt remote wraps, the storage underneath, what it keeps, and the
 * tuning for it. Every later step reads this instead of looking at the sections again.
 */
export interface ResolvedRemote {
  /** The section poof.conf names. */
  section: RcloneSection;
  /** For a crypt remote: the section it wraps, when it is in rclone-poof.conf. */
  baseSection?: RcloneSection | undefined;
  name: string;
  crypt: boolean;
  /** For a crypt remote: what it wraps, e.g. "poof-backup:bucket". */
  wraps?: string | undefined;
  /** The backend type that stores the files, under any crypt wrapper ("unknown" when not found). */
  storageType: string;
  keepsModes: boolean;
  /** poof's tree on the remote: "remote:bucket", or "crypt:" for a crypt remote. */
  root: string;
  /**
   * Where that tree is on this machine's disk, for a plain local-directory "cloud" (an alias of
   * an absolute path, not encrypted); undefined for everything else.
   */
  localDir?: string | undefined;
  tuning: RcloneTuning;
  /** rclone-poof.conf. */
  configFile: string;
  /** Symbolic links are kept as links ("symlinks": "links"): a stored link is a file `x.rclonelink`. */
  links?: boolean;
}

/**
 * Settings that say nothing about which storage a section reaches: credentials (another key to
 * the same bucket is the same bucket; and no secret, even hashed, goes into a state file's name)
 * and what rclone writes back itself on first contact (an SFTP server's shell and hash commands).
 */
const NOT_IDENTITY = /(^|_)(pass|password\d?|secret|token|key|credentials|session|sas|pem)(_|$)|^(shell_type|md5sum_command|sha1sum_command|description)$/;

/**
 * Pure: which storage the remote reaches, as a short hash of its sections' other settings.
 * `poof cconfig --force` can point the same remote name and bucket at other storage; what this
 * machine remembers of the old one (each run's record, what was last sent) is kept apart by it,
 * so it never stands in for what the new one holds.
 */
export function storageIdentity(remote: Pick<ResolvedRemote, 'root'> & Partial<Pick<ResolvedRemote, 'section' | 'baseSection'>>): string {
  const settings = (section: RcloneSection | undefined) =>
    Object.entries(section?.values ?? {})
      .filter(([key]) => !NOT_IDENTITY.test(key.toLowerCase()))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([remote.root, settings(remote.section), remote.baseSection?.name ?? null, settings(remote.baseSection)])).digest('hex').slice(0, 16);
}

/** Pure: the backend type that stores the files, under any crypt wrapper. */
export function storageType(section: RcloneSection, baseSection: RcloneSection | undefined): string {
  return (isCrypt(section) ? baseSection?.values.type : section.values.type) ?? 'unknown';
}

/** Pure: the directory of poof's tree on this machine's disk, for an alias of an absolute path. */
export function localDirOf(config: Pick<PoofConfig, 'bucket'>, section: RcloneSection): string | undefined {
  const target = section.values.remote;
  if (section.values.type !== 'alias' || !target?.startsWith('/')) return undefined;
  return path.posix.join(target, config.bucket);
}

/**
 * Pure: where a mapping's mirror is on this machine's disk, for a local-directory "cloud" and a
 * name rclone's local backend stores as it is; undefined otherwise.
 */
export function mirrorDirOnDisk(remote: ResolvedRemote, name: string): string | undefined {
  return remote.localDir && !ENCODED_BY_RCLONE.test(name) ? path.join(remote.localDir, name) : undefined;
}

/** Pure: resolve the remote of poof.conf against rclone-poof.conf's sections. */
export function resolveRemote(
  config: PoofConfig,
  section: RcloneSection,
  baseSection: RcloneSection | undefined,
  configFile: string,
  abilities: Pick<Capabilities, 'linksWithMetadata'> = { linksWithMetadata: false },
): ResolvedRemote {
  const crypt = isCrypt(section);
  const stored = storageType(section, baseSection);
  return {
    section,
    baseSection,
    name: section.name,
    crypt,
    ...(crypt ? { wraps: section.values.remote ?? '' } : {}),
    storageType: stored,
    keepsModes: keepsModes(stored, crypt, config.symlinks, abilities.linksWithMetadata),
    root: remoteRoot(config, section),
    localDir: localDirOf(config, section),
    tuning: effectiveTuning(stored, crypt, config.rclone),
    configFile,
    links: config.symlinks === 'links',
  };
}

/** Pure: what every backup and restore argv of this remote shares, from the remote and poof.conf. */
export function transferSettings(config: PoofConfig, remote: ResolvedRemote): TransferSettings {
  return {
    configFile: remote.configFile,
    backendType: remote.storageType,
    crypt: remote.crypt,
    symlinks: config.symlinks,
    excludes: config.excludes,
    tuning: remote.tuning,
    keepsModes: remote.keepsModes,
  };
}

/** Pure: where one mapping lives on the remote. */
export function mappingPath(config: PoofConfig, remote: ResolvedRemote, name: string): string {
  return remotePathFor(config, remote.section, name);
}

/**
 * Pure: the quick probe that tells whether the remote answers, run when a long rclone command has
 * been silent a while (rclone/watchdog.ts); none for a local directory, which cannot go away mid-run
 * the way a server does.
 */
export function probeArgsFor(remote: ResolvedRemote): string[] | undefined {
  return remote.storageType === 'local' || remote.storageType === 'alias' ? undefined : buildListArgs(remote.configFile, remote.root, 'quick');
}
