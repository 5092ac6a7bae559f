import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatHistory, formatSyncKept, formatSyncKeptCopies, formatVersions, summarizeRun, summarizeSyncKept, type SyncKeptCopy } from '../ui/history-format.js';
import { openHistory, type OpenedHistory } from '../run/open-history.js';
import { keptFolders, listSyncKept, type SyncKept } from '../sync/kept.js';
import { LINK_SUFFIX } from '../rclone/args.js';
import { locate } from '../versions/locate.js';
import { runOfFolder } from '../versions/run-id.js';
import { versionsOf, type KeptVersions } from '../versions/state.js';
import { vaultVersionsOf } from '../vault/versions.js';
import type { historySpec, OptionsOf, versionsSpec } from './specs.js';

export async function historyCommand(ctx: Context, options: OptionsOf<typeof historySpec>): Promise<number> {
  const opened = await openHistory(ctx, options.only);
  const syncKept = await openSyncKept(ctx, opened);
  const summaries = opened.mappings.map((m) => ({
    name: m.name,
    runs: m.manifests.map((manifest) => summarizeRun(manifest, keptBy(m.kept, manifest.runId, m.manifests.map((r) => r.runId)))),
    ...(syncKept ? { syncKept: (syncKept.get(m.name) ?? []).map((run) => summarizeSyncKept(run, keptFolders(ctx.paths.syncKeptDir, opened.remote.root, run.keptId, m.name))) } : {}),
  }));
  if (options.json) {
    ctx.out(JSON.stringify({ mappings: summaries }, null, 2));
    return ExitCode.ok;
  }
  for (const mapping of summaries) {
    // A two-way mapping's backup runs (from before it was two-way) say nothing of it now.
    if (mapping.runs.length > 0 || !mapping.syncKept?.length) for (const line of formatHistory(mapping.name, mapping.runs)) ctx.out(line);
    for (const line of formatSyncKept(mapping.name, mapping.syncKept ?? [])) ctx.out(line);
  }
  return ExitCode.ok;
}

export async function versionsCommand(ctx: Context, options: OptionsOf<typeof versionsSpec>, args: string[]): Promise<number> {
  const wanted = args[0] ?? '';
  const opened = await openHistory(ctx, undefined);
  const located = locate(ctx, wanted, opened.mappings.map((m) => ({ name: m.name, localDir: m.localDir })));
  const mapping = opened.mappings.find((m) => m.name === located.name)!;
  // A link kept as a link is recorded as NAME.rclonelink: the PATH that names it is NAME.
  const asLink = `${located.rel}${LINK_SUFFIX}`;
  const isLink = opened.remote.links && mapping.manifests.some((m) => m.files?.[asLink]) && !mapping.manifests.some((m) => m.files?.[located.rel]);
  const found = isLink ? { ...located, rel: asLink } : located;
  const latest = mapping.manifests.filter((m) => m.files).at(-1);
  // A two-way mapping's remote copy is changed by every sync, and `poof watch` changes a mirror
  // between recorded runs: the newest record does not say what the mirror holds then.
  const changed = opened.setup.config.mode !== 'append-only' && 'isChanging' in opened.cache && (await opened.cache.isChanging(found.name));
  const mirror = opened.setup.config.sync?.includes(found.name) || changed ? undefined : latest?.files?.[found.rel];
  if (changed && !options.json) ctx.out(`${found.name}: its remote copy changed since the last recorded run (poof watch, or a run cut short): the next backup records it; the versions kept before that are below`);
  const versions = opened.setup.config.mode === 'append-only' ? vaultVersionsOf(found.rel, mapping.manifests) : versionsOf(found.rel, mapping.manifests, mapping.kept, mirror);
  const syncKept = await openSyncKept(ctx, opened);
  const copies: SyncKeptCopy[] = [];
  for (const run of syncKept?.get(found.name) ?? []) {
    const folders = keptFolders(ctx.paths.syncKeptDir, opened.remote.root, run.keptId, found.name);
    for (const side of ['here', 'remote'] as const) {
      const size = run[side].get(found.rel);
      if (size !== undefined) copies.push({ keptId: run.keptId, runId: run.runId, side, size, at: side === 'here' ? path.join(folders.here, found.rel) : `${folders.remote}/${found.rel}` });
    }
  }
  if (options.json) {
    ctx.out(JSON.stringify({ mapping: found.name, path: found.rel, versions, ...(syncKept ? { syncKept: copies } : {}) }, null, 2));
    return ExitCode.ok;
  }
  if (versions.length > 0 || copies.length === 0) for (const line of formatVersions(`${found.name}/${found.rel}`, versions, opened.setup.config.mode === 'append-only')) ctx.out(line);
  else ctx.out(`${found.name}/${found.rel}: no version kept by a backup`);
  for (const line of formatSyncKeptCopies(copies, ctx.paths.rcloneConf)) ctx.out(line);
  return versions.length + copies.length > 0 ? ExitCode.ok : ExitCode.runFailed;
}

/**
 * What the two-way syncs kept, when poof.conf has two-way mappings or this machine keeps copies
 * from earlier ones; undefined otherwise (and for an append-only vault, which has no sync).
 */
async function openSyncKept(ctx: Context, opened: OpenedHistory): Promise<SyncKept | undefined> {
  if (opened.setup.config.mode === 'append-only') return undefined;
  if (!opened.setup.config.sync?.length && !existsSync(ctx.paths.syncKeptDir)) return undefined;
  return listSyncKept(opened.rclone, opened.remote, ctx.paths.syncKeptDir);
}

/**
 * What a run's folders (its first pass and any later ones) keep, path -> size; and the folders of
 * a run without a record before it (a watch window's batches, which the next full backup records;
 * a run killed outright), which hold what was replaced on the way to it.
 */
function keptBy(kept: KeptVersions, runId: string, recorded: string[]): Map<string, number> {
  const sorted = [...recorded].sort();
  const out = new Map<string, number>();
  for (const [folder, files] of kept) {
    const run = runOfFolder(folder);
    const owner = sorted.includes(run) ? run : sorted.find((id) => id > run);
    if (owner === runId) for (const [file, size] of files) out.set(`${folder}/${file}`, size);
  }
  return out;
}
