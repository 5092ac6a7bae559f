import type { Context } from '../context.js';
import type { RunAllOutcome } from '../engine/run-all.js';
import { capabilitiesOf } from '../rclone/capabilities.js';
import { remotePathFor } from '../rclone/remote-path.js';
import { mirrorDirOnDisk } from '../rclone/remote.js';
import { runPipeline } from '../run/pipeline.js';
import { isUploaded, readUploaded } from '../run/uploaded.js';
import { readUnfinished } from '../run/unfinished.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { refuseOverlap } from '../safety/sources.js';
import { normalizeDir } from '../fs/paths.js';
import { detectChanges } from '../engine/sent-transfer.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_SYNC_MAX_DELETE } from '../sync/bisync.js';
import { refusedTransfer, type SyncResult } from '../engine/result.js';
import { syncMapping } from '../sync/run.js';
import { applySyncKeptPrune, keptFolders, listSyncKept, planSyncKeptPrune, keptIdFor, syncKeptRoot } from '../sync/kept.js';
import { DEFAULT_KEEP } from '../versions/retention.js';
import { runIdFor } from '../versions/run-id.js';
import { UsageError } from '../errors.js';
import type { OptionsOf, syncSpec } from './specs.js';

export type SyncOptions = OptionsOf<typeof syncSpec>;

/**
 * `poof sync`: the two-way mappings ("sync" in poof.conf) kept in step with `rclone bisync`,
 * under the same lock, signals and run history as a backup.
 */
export async function syncCommand(ctx: Context, options: SyncOptions): Promise<number> {
  const dryRun = Boolean(options.dryRun);
  const resync = Boolean(options.resync);
  const maxDelete = options.maxDelete === undefined ? undefined : Number(options.maxDelete);
  if (maxDelete !== undefined && (!Number.isInteger(maxDelete) || maxDelete < 1 || maxDelete > 100)) {
    throw new UsageError(`--max-delete "${options.maxDelete}" is not a whole percentage from 1 to 100`, 'e.g. --max-delete 50');
  }
  const { exitCode } = await runPipeline(ctx, { command: 'sync', dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt, log }) => {
    const { config } = setup;
    const twoWay = new Set(config.sync ?? []);
    if (twoWay.size === 0) throw new UsageError('no mapping is two-way', 'name it in poof.conf: "sync": ["NAME"] (a mapping\'s remote name)');
    for (const name of options.only ?? []) if (!twoWay.has(name)) throw new UsageError(`--only "${name}" is not a two-way mapping`, `add it to "sync" in poof.conf, or use one of: ${[...twoWay].join(', ')}`);
    await requireCryptKey(rclone, remote, setup.names, interrupt.signal, false);
    // bisync finds changes by modification time: where the storage keeps none, an edit that keeps
    // a file's size would never reach the other side, and every sync would still say ok.
    const detection = await detectChanges(rclone, remote, interrupt.signal, ctx.paths.featuresCache);
    const noTimes = detection.modTime ? undefined : 'this storage keeps no modification times, and rclone bisync finds changes by them: an edit that keeps a file\'s size would never reach the other side while every sync said ok; back it up one way instead (take it out of "sync"), or use storage that keeps times (local, SFTP, S3)';
    const uploaded = await readUploaded(ctx.paths.uploadedFile);
    const capabilities = capabilitiesOf(rclone.version);
    const now = new Date();
    const runId = runIdFor(now);
    // What this run keeps goes into a folder of its own, also when two syncs start in the same second.
    const keptId = keptIdFor(runId, now, randomBytes(1)[0]!);
    const settings = {
      configFile: remote.configFile,
      stateDir: ctx.paths.stateDir,
      excludes: config.excludes,
      maxDeletePercent: maxDelete ?? config.syncMaxDelete ?? DEFAULT_SYNC_MAX_DELETE,
      capabilities,
      bwlimit: remote.tuning.bwlimit,
      remoteOnDisk: (name: string) => mirrorDirOnDisk(remote, name),
      keepFor: (name: string) => {
        const folders = keptFolders(ctx.paths.syncKeptDir, remote.root, keptId, name);
        return { local: folders.here, remote: folders.remote };
      },
      unfinishedRestores: new Set(Object.keys((await readUnfinished(ctx.paths.unfinishedFile)).restores)),
      runId,
    };
    const hooks = { log: log.write, cancelSignal: interrupt.signal, dryRun, resync };
    const outcome: RunAllOutcome<SyncResult> = { results: [], notRun: [] };
    for (const [localDir, name] of Object.entries(config.paths)) {
      if (!twoWay.has(name) || (options.only && !options.only.includes(name))) continue;
      if (interrupt.signal.aborted) {
        outcome.notRun.push(name);
        continue;
      }
      const plan = { name, localDir, remotePath: remotePathFor(config, remote.section, name) };
      const refusal = isUploaded(uploaded, name)
        ? `${name} was uploaded (its files were wiped here, kept only on the remote): a two-way sync would take them for deleted and delete the only copy; take ${name} out of "sync"`
        : (noTimes ?? refuseOverlap(normalizeDir(localDir), remote, config, name));
      const result: SyncResult = refusal ? { ...refusedTransfer(plan, refusal), kind: 'sync', toRemote: 0, toLocal: 0, conflicts: 0 } : await syncMapping(rclone, plan, settings, hooks);
      outcome.results.push(result);
      report(ctx, result, dryRun);
    }
    if (!dryRun && outcome.results.some((result) => result.status === 'ok')) {
      ctx.err(`poof: what this sync replaced or deleted, if anything, is kept in ${path.join(ctx.paths.syncKeptDir, keptId)} (here) and ${syncKeptRoot(remote.root)}/${keptId} (the remote); \`poof history\` lists them`);
      if (!capabilities.bisyncSafetyFlags) ctx.err(`poof: rclone ${rclone.version.text}: bisync is experimental before 1.66; poof copied first what a dry run said this sync would replace, so a change made during the sync itself is not kept`);
      // poof.conf's "keep" applies to the syncs' keep folders as to backup runs.
      const synced = outcome.results.filter((result) => result.status === 'ok').map((result) => result.name);
      try {
        const kept = await listSyncKept(rclone, remote, ctx.paths.syncKeptDir, interrupt.signal);
        for (const name of synced) {
          // Never what this sync just kept: the user was told where it is.
          const plan = planSyncKeptPrune(name, kept.get(name) ?? [], config.keep ?? DEFAULT_KEEP, { now: Date.now(), protect: new Set([keptId]) });
          if (plan.removed.length === 0) continue;
          await applySyncKeptPrune(rclone, remote, ctx.paths.syncKeptDir, plan, interrupt.signal);
          log.write(`# ${name}: removed the sync keep folders the "keep" policy no longer keeps: ${plan.removed.join(', ')}`);
        }
      } catch (error) {
        // The sync itself is done; what is not pruned now is at the next sync or \`poof prune\`.
        ctx.err(`poof: the sync is done, but its old keep folders were not pruned (${(error as Error).message}); the next sync or \`poof prune\` does it`);
      }
    }
    return outcome;
  });
  return exitCode;
}

function report(ctx: Context, result: SyncResult, dryRun: boolean): void {
  const prefix = dryRun ? '[dry run] ' : '';
  if (result.status === 'refused') return ctx.err(`${prefix}${result.name}: REFUSED: ${result.reason ?? ''}`);
  if (result.status === 'failed') return ctx.err(`${prefix}${result.name}: FAILED: ${result.reason ?? ''}`);
  const kept = result.keptBoth?.length ? `; ${result.keptBoth.length} ${result.keptBoth.length === 1 ? 'file differed' : 'files differed'} on the two sides: both copies kept (${result.keptBoth.slice(0, 3).join(', ')}${result.keptBoth.length > 3 ? ', ...' : ''})` : '';
  const conflicts = result.conflicts > 0 ? `, ${result.conflicts} changed on both sides: both copies kept` : '';
  if (result.rejoined) ctx.err(`${prefix}${result.name}: its last sync was cut short, so both sides were joined again, as by --resync (files deleted on one side since the last complete sync come back from the other)`);
  // A resync copies what each side lacks without naming each file: no counts to give.
  if (result.joined) return ctx.out(`${prefix}${result.name}: ok: both sides ${dryRun ? 'would be' : 'are'} joined: each has every file of the other${kept}`);
  ctx.out(`${prefix}${result.name}: ok: ${result.toRemote} to the remote, ${result.toLocal} to here, ${result.deleted} deleted${conflicts}${kept}`);
}
