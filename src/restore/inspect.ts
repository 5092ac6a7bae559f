import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { describeRcloneExit } from '../rclone/exit-codes.js';
import { buildSizeArgs } from '../rclone/args.js';
import { dryRunAction, stripTimestamp } from '../rclone/log-parse.js';
import type { Rclone } from '../rclone/runner.js';
import type { UnfinishedBackup } from '../run/unfinished.js';
import { probeArgsFor } from '../rclone/remote.js';
import { runStreamed } from '../rclone/stream.js';
import { refuseRemoteNames } from '../safety/remote-names.js';
import { restoreArgsFor, sortChanges, type DryRunItem, type RestoreChanges, type RestoreSettings, type RestoreTarget } from './plan.js';

export interface InspectedTarget extends RestoreTarget {
  remoteFiles?: number;
  remoteBytes?: number;
  changes?: RestoreChanges;
  /** The mapping's last backup did not finish: files it was writing may be partial on the remote. */
  unfinishedBackup?: UnfinishedBackup;
}

/**
 * Look at one restore before doing it: the remote copy must exist and hold files (rclone 1.60
 * lists a crypt remote opened with the wrong password as an EMPTY tree with exit 0, and
 * mirroring an empty tree would delete every local file), then rclone's own dry run says
 * exactly which local files the restore would replace or delete.
 */
export async function inspectTarget(rclone: Rclone, target: RestoreTarget, settings: RestoreSettings, cancelSignal?: AbortSignal): Promise<InspectedTarget> {
  if (target.refusal) return target;
  const signal = cancelSignal ? { cancelSignal } : {};
  const { config, remote } = settings;
  // Streamed, so a server that refuses connections is found by the probe, not after rclone's minutes of retries.
  const size = await runStreamed(rclone, buildSizeArgs(remote.configFile, target.remotePath, config.excludes, remote.tuning.fastList ?? false), { ...signal, probeArgs: probeArgsFor(remote) });
  if (size.stalled) return { ...target, refusal: `could not list ${target.remotePath}: the remote does not answer (${size.stalled.message})` };
  if (size.exitCode !== 0) {
    const cause = lastMessage(size.stderr);
    const refusal =
      size.exitCode === 3 || /directory not found/i.test(cause)
        ? `the remote has no copy at ${target.remotePath} (directory not found); nothing to restore`
        : `could not list ${target.remotePath}: rclone exited ${size.exitCode} (${describeRcloneExit(size.exitCode).meaning}): ${cause}`;
    return { ...target, refusal };
  }
  const counted = parseSize(size.stdout);
  if (!counted || counted.count === 0) {
    return {
      ...target,
      remoteFiles: 0,
      remoteBytes: 0,
      refusal: `the remote copy at ${target.remotePath} holds no files (never backed up, deleted, or a crypt remote opened with the wrong password); restoring it would delete every local file, so it is refused`,
    };
  }

  const items: DryRunItem[] = [];
  const errors: string[] = [];
  const dry = await runStreamed(rclone, restoreArgsFor(target, settings), {
    cancelSignal,
    probeArgs: probeArgsFor(remote),
    onEvent: (event) => {
      if (event.kind === 'error') errors.push(event.object ? `${event.object}: ${event.message}` : event.message);
      if (event.kind !== 'file' || event.action !== 'skipped') return;
      const action = dryRunAction(event.message);
      if (action) items.push({ action, object: event.object, size: event.size });
    },
  });
  if (dry.exitCode !== 0) {
    return {
      ...target,
      remoteFiles: counted.count,
      remoteBytes: counted.bytes,
      refusal: `could not compare with the remote: rclone exited ${dry.exitCode} (${describeRcloneExit(dry.exitCode).meaning})${errors[0] ? `: ${errors[0]}` : ''}`,
    };
  }
  const unsafe = refuseRemoteNames(
    items.filter((item) => item.action === 'copy').map((item) => item.object),
    config.symlinks === 'links',
  );
  if (unsafe) return { ...target, remoteFiles: counted.count, remoteBytes: counted.bytes, refusal: unsafe };
  const existing = new Map<string, number>();
  for (const item of items) {
    if (item.action !== 'copy') continue;
    const local = await lstat(path.join(target.localDir, item.object)).catch(() => undefined);
    if (local) existing.set(item.object, local.size);
  }
  return { ...target, remoteFiles: counted.count, remoteBytes: counted.bytes, changes: sortChanges(items, existing) };
}

/** Pure: `rclone size --json` output, e.g. {"count":3,"bytes":1024}. */
export function parseSize(stdout: string): { count: number; bytes: number } | undefined {
  try {
    const data = JSON.parse(stdout) as { count?: unknown; bytes?: unknown };
    if (typeof data.count !== 'number') return undefined;
    return { count: data.count, bytes: typeof data.bytes === 'number' ? data.bytes : 0 };
  } catch {
    return undefined;
  }
}

function lastMessage(stderr: string): string {
  const lines = stderr.split('\n').map(stripTimestamp).filter((l) => l !== '');
  return (lines[lines.length - 1] ?? 'no error message').slice(0, 400);
}
