import path from 'node:path';
import type { PoofConfig } from '../config/schema.js';
import { isInside, normalizeDir } from '../config/validate.js';
import { buildSyncArgs } from '../rclone/args.js';
import { mappingPath, type ResolvedRemote } from '../rclone/remote.js';
import { stallMsFor } from '../rclone/watchdog.js';

export interface MappingPlan {
  name: string;
  localDir: string;
  remotePath: string;
  args: string[];
  /** Copied without deleting anything on the remote (rclone copy). */
  copyOnly?: boolean;
  /** After a connection error, how long without progress before rclone is stopped. */
  stallMs?: number;
  /** Why this mapping must not run; it is then reported as refused. */
  refusal?: string;
}

export interface SourceState {
  exists: boolean;
  isDirectory: boolean;
  hasFiles: boolean;
}

export interface BackupPlanInput {
  config: PoofConfig;
  remote: ResolvedRemote;
  only?: string[] | undefined;
  dryRun: boolean;
  sources: Record<string, SourceState>;
  /** Mappings to copy without deleting on the remote (uploaded ones), by name. */
  copyOnly?: ReadonlySet<string> | undefined;
  /** Upload: an empty directory is fine (nothing to copy, nothing to wipe); it is never mirrored. */
  allowEmpty?: boolean;
}

/**
 * Pure: one `rclone sync` per mapping, or a refusal. A missing or empty source is refused:
 * rclone would mirror the emptiness and delete the whole remote copy.
 */
export function planBackup(input: BackupPlanInput): MappingPlan[] {
  const { config, remote } = input;
  const entries = Object.entries(config.paths).filter(([, name]) => !input.only || input.only.includes(name));
  return entries.map(([rawDir, name]) => {
    const localDir = normalizeDir(rawDir);
    const remotePath = mappingPath(config, remote, name);
    const args = buildSyncArgs({
      configFile: remote.configFile,
      source: localDir,
      dest: remotePath,
      backendType: remote.storageType,
      crypt: remote.crypt,
      symlinks: config.symlinks,
      excludes: config.excludes,
      tuning: config.rclone,
      dryRun: input.dryRun,
      copyOnly: input.copyOnly?.has(name) ?? false,
    });
    const refusal = refuseSource(input.sources[rawDir], Boolean(input.allowEmpty) || (input.copyOnly?.has(name) ?? false)) ?? refuseOverlap(localDir, remote, config, name);
    return {
      name,
      localDir,
      remotePath,
      args,
      ...(input.copyOnly?.has(name) ? { copyOnly: true } : {}),
      stallMs: stallMsFor(config.rclone?.stallSeconds),
      ...(refusal ? { refusal } : {}),
    };
  });
}

function refuseSource(state: SourceState | undefined, allowEmpty: boolean): string | undefined {
  if (!state?.exists) return 'the local directory does not exist (or its disk is not mounted); the remote copy is left as it is';
  if (!state.isDirectory) return 'the local path is not a directory';
  if (!state.hasFiles && !allowEmpty) return 'the local directory holds no files; mirroring it would delete the whole remote copy, so it is skipped';
  return undefined;
}

/** A local-directory "cloud" inside the source (or around it) would copy the backup into itself. */
export function refuseOverlap(localDir: string, remote: ResolvedRemote, config: PoofConfig, name: string): string | undefined {
  const { section } = remote;
  if (section.values.type !== 'alias' || !section.values.remote?.startsWith('/')) return undefined;
  const dest = normalizeDir(path.posix.join(section.values.remote, config.bucket, name));
  if (dest === localDir || isInside(dest, localDir) || isInside(localDir, dest)) {
    return `the backup destination ${dest} overlaps the directory itself; choose another --root`;
  }
  return undefined;
}
