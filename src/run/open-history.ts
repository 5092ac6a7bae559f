import type { Context } from '../context.js';
import { capabilitiesOf } from '../rclone/capabilities.js';
import { resolveRemote, type ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { loadRunSetup, type RunSetup } from './setup.js';
import type { RunManifest } from '../versions/manifest.js';
import type { KeptVersions } from '../versions/state.js';
import { listHistory, ManifestCache, readManifests } from '../versions/store.js';
import { listVaultRuns, readVaultRecords, vaultCache } from '../vault/records.js';

/** One mapping's history as the remote holds it. */
export interface MappingHistory {
  name: string;
  localDir: string;
  /** Every run with a manifest, oldest first. */
  manifests: RunManifest[];
  kept: KeptVersions;
}

export interface OpenedHistory {
  setup: RunSetup;
  remote: ResolvedRemote;
  rclone: Rclone;
  cache: ManifestCache;
  mappings: MappingHistory[];
}

/**
 * Read what the remote keeps: one listing of .poof-history, then the manifests this machine has
 * not seen yet. Everything comes from the remote, so a new laptop sees the same history.
 */
export async function openHistory(ctx: Context, only: string[] | undefined, cancelSignal?: AbortSignal): Promise<OpenedHistory> {
  const setup = await loadRunSetup(ctx, only);
  const rclone = await ctx.locateRclone({ cacheVersion: true });
  const remote = resolveRemote(setup.config, setup.section, setup.baseSection, ctx.paths.rcloneConf, capabilitiesOf(rclone.version));
  return readHistory(ctx, { setup, remote, rclone }, only, cancelSignal);
}

/** The same, for a run that has loaded its setup (and holds the lock). */
export async function readHistory(ctx: Context, frame: Pick<OpenedHistory, 'setup' | 'remote' | 'rclone'>, only: string[] | undefined, cancelSignal?: AbortSignal): Promise<OpenedHistory> {
  const { setup, remote, rclone } = frame;
  if (setup.config.mode === 'append-only') return readVaultHistory(ctx, frame, only, cancelSignal);
  const cache = new ManifestCache(ctx.paths.stateDir, remote);
  const listing = await listHistory(rclone, remote, cancelSignal, cache);
  const mappings: MappingHistory[] = [];
  for (const [localDir, name] of Object.entries(setup.config.paths)) {
    if (only && !only.includes(name)) continue;
    const manifests = await readManifests(rclone, remote, cache, name, listing.manifests.get(name) ?? [], cancelSignal);
    mappings.push({ name, localDir, manifests, kept: listing.kept.get(name) ?? new Map() });
  }
  return { setup, remote, rclone, cache, mappings };
}

/** The same for an append-only vault: one listing of runs/, then the records not cached. */
async function readVaultHistory(ctx: Context, frame: Pick<OpenedHistory, 'setup' | 'remote' | 'rclone'>, only: string[] | undefined, cancelSignal?: AbortSignal): Promise<OpenedHistory> {
  const { setup, remote, rclone } = frame;
  const cache = vaultCache(ctx.paths.stateDir, remote);
  const runs = await listVaultRuns(rclone, remote, cancelSignal);
  const mappings: MappingHistory[] = [];
  for (const [localDir, name] of Object.entries(setup.config.paths)) {
    if (only && !only.includes(name)) continue;
    mappings.push({ name, localDir, manifests: await readVaultRecords(rclone, remote, cache, name, runs.get(name) ?? [], cancelSignal), kept: new Map() });
  }
  return { setup, remote, rclone, cache, mappings };
}
