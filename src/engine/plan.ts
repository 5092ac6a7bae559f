import type { PoofConfig } from '../config/schema.js';
import { normalizeDir } from '../fs/paths.js';
import { buildSyncArgs, movesByCopy, type SyncArgsInput } from '../rclone/args.js';
import { historyFolder } from '../rclone/history-args.js';
import { mappingPath, probeArgsFor, transferSettings, type ResolvedRemote } from '../rclone/remote.js';
import { stallMsFor } from '../rclone/watchdog.js';
import { refuseOverlap, refuseSource, refuseUnfinishedRestore, type SourceState } from '../safety/sources.js';

export type { SourceState };

export interface MappingPlan {
  name: string;
  localDir: string;
  remotePath: string;
  args: string[];
  /** What args were built from: a retry rebuilds them with a filter added. */
  syncInput?: SyncArgsInput;
  /** Copied without deleting anything on the remote (rclone copy). */
  copyOnly?: boolean;
  /** After a connection error, how long without progress before rclone is stopped. */
  stallMs?: number;
  /** The quick probe of the remote when rclone is silent a while (none for a local directory). */
  probeArgs?: string[] | undefined;
  /** Why this mapping must not run; it is then reported as refused. */
  refusal?: string;
  /** Names that are a file here and a folder on the remote were cleared before this pass (see type-clash.ts). */
  clashesCleared?: boolean;
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
  /** Local directories whose last restore did not finish: refused unless ignoreUnfinishedRestore. */
  unfinishedRestores?: ReadonlySet<string> | undefined;
  ignoreUnfinishedRestore?: boolean | undefined;
  /** With history kept: this run's id, whose folder receives what each mapping replaces. */
  runId?: string | undefined;
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
    const syncInput: SyncArgsInput = {
      ...transferSettings(config, remote),
      source: localDir,
      dest: remotePath,
      dryRun: input.dryRun,
      copyOnly: input.copyOnly?.has(name) ?? false,
      ...(input.runId !== undefined ? { backupDir: historyFolder(remote.root, input.runId, name) } : {}),
      ...(input.runId !== undefined && movesByCopy(remote.storageType) && remote.tuning.maxDelete !== undefined ? { deleteLimitByPoof: true } : {}),
    };
    const args = buildSyncArgs(syncInput);
    const refusal =
      refuseUnfinishedRestore(localDir, name, input.unfinishedRestores ?? new Set(), Boolean(input.ignoreUnfinishedRestore)) ??
      refuseSource(input.sources[rawDir], Boolean(input.allowEmpty) || (input.copyOnly?.has(name) ?? false)) ?? refuseOverlap(localDir, remote, config, name);
    return {
      name,
      localDir,
      remotePath,
      args,
      syncInput,
      ...(input.copyOnly?.has(name) ? { copyOnly: true } : {}),
      stallMs: stallMsFor(config.rclone?.stallSeconds),
      probeArgs: probeArgsFor(remote),
      ...(refusal ? { refusal } : {}),
    };
  });
}
