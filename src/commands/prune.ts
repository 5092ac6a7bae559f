import type { Context } from '../context.js';
import { runPipeline } from '../run/pipeline.js';
import { pruneHistory } from '../run/prune-history.js';
import { formatPrune, formatSyncKeptPrune, formatVaultPrune } from '../ui/history-format.js';
import { applySyncKeptPrune, listSyncKept, planSyncKeptPrune, type SyncKeptPrune } from '../sync/kept.js';
import type { MappingPrune } from '../versions/prune.js';
import type { OptionsOf, pruneSpec } from './specs.js';
import type { PoofConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { capabilitiesOf } from '../rclone/capabilities.js';
import { loadRemoteSections } from '../rclone/conf-file.js';
import { resolveRemote, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { pruneVault, type VaultPrunePlan } from '../vault/prune.js';
import { DEFAULT_KEEP, parseDuration } from '../versions/retention.js';

export async function pruneCommand(ctx: Context, options: OptionsOf<typeof pruneSpec>): Promise<number> {
  const dryRun = Boolean(options.dryRun);
  let plans: MappingPrune[] = [];
  let syncPlans: SyncKeptPrune[] = [];
  // The lock: a prune must not remove what a backup running now is about to need.
  let vault: VaultPrunePlan | undefined;
  const { exitCode } = await runPipeline(ctx, { command: 'prune', dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt }) => {
    if (setup.config.mode === 'append-only') {
      const admin = await adminRemote(ctx, setup.config, options.remote, rclone);
      const within = setup.config.keep?.within;
      if (!within) throw new UsageError('an append-only prune keeps runs by age: poof.conf has no "keep": {"within": ...}', 'add e.g. "keep": {"within": "90d"} to poof.conf');
      vault = await pruneVault(ctx.paths.stateDir, rclone, admin, { withinMs: parseDuration(within)!, only: options.only, dryRun, cancelSignal: interrupt.signal });
      return { results: [], notRun: [] };
    }
    plans = await pruneHistory(ctx, setup, remote, rclone, { only: options.only, dryRun, cancelSignal: interrupt.signal });
    // What two-way syncs kept, on both sides, under the same policy (each sync that kept something a run).
    const kept = await listSyncKept(rclone, remote, ctx.paths.syncKeptDir, interrupt.signal);
    // This config's mappings only: another config (or machine) with other names keeps its own.
    syncPlans = [...kept].filter(([name]) => setup.names.includes(name) && (!options.only || options.only.includes(name))).map(([name, runs]) => planSyncKeptPrune(name, runs, setup.config.keep ?? DEFAULT_KEEP, { now: Date.now() }));
    if (!dryRun) for (const plan of syncPlans) await applySyncKeptPrune(rclone, remote, ctx.paths.syncKeptDir, plan, interrupt.signal);
    return { results: [], notRun: [] };
  });
  if (vault) {
    if (options.json) ctx.out(JSON.stringify({ ok: exitCode === 0, dryRun, exitCode, expired: Object.fromEntries(vault.expired), kept: Object.fromEntries(vault.kept), objects: vault.objects.length, bytes: vault.bytes, waiting: vault.waiting }, null, 2));
    else for (const line of formatVaultPrune(vault, dryRun)) ctx.out(line);
    return exitCode;
  }
  if (options.json) {
    ctx.out(JSON.stringify({ ok: exitCode === 0, dryRun, exitCode, mappings: plans.map((p) => ({ ...p, kept: Object.fromEntries(p.kept) })), sync: syncPlans }, null, 2));
    return exitCode;
  }
  for (const plan of plans) for (const line of formatPrune(plan, dryRun)) ctx.out(line);
  for (const plan of syncPlans) for (const line of formatSyncKeptPrune(plan, dryRun)) ctx.out(line);
  return exitCode;
}

/**
 * The remote an append-only prune deletes with: --remote, else poof.conf's "pruneRemote"; never
 * the backup's own (the laptop's key must not be the one that can delete), and on the same bucket.
 */
async function adminRemote(ctx: Context, config: PoofConfig, asked: string | undefined, rclone: Rclone): Promise<ResolvedRemote> {
  const name = asked ?? config.pruneRemote;
  if (!name) throw new UsageError('an append-only backup is pruned with a key that can delete, which this machine\'s backups must not use: no --remote and no "pruneRemote" in poof.conf', 'on a trusted machine, add a [section] to rclone-poof.conf with that key and run poof prune --remote SECTION (or set "pruneRemote")');
  if (name === config.remote) throw new UsageError(`--remote "${name}" is the backup's own remote: its key is the one that must not be able to delete`, 'give the remote with the administrator\'s key, e.g. poof prune --remote poof-admin');
  const sections = await loadRemoteSections(ctx.paths, { ...config, remote: name }, ctx);
  return resolveRemote({ ...config, remote: name }, sections.section, sections.baseSection, ctx.paths.rcloneConf, capabilitiesOf(rclone.version));
}
