import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { formatHistory, formatVersions, summarizeRun } from '../ui/history-format.js';
import { openHistory } from '../run/open-history.js';
import { locate } from '../versions/locate.js';
import { runOfFolder } from '../versions/run-id.js';
import { versionsOf, type KeptVersions } from '../versions/state.js';
import { vaultVersionsOf } from '../vault/versions.js';
import type { historySpec, OptionsOf, versionsSpec } from './specs.js';

export async function historyCommand(ctx: Context, options: OptionsOf<typeof historySpec>): Promise<number> {
  const { mappings } = await openHistory(ctx, options.only);
  const summaries = mappings.map((m) => ({ name: m.name, runs: m.manifests.map((manifest) => summarizeRun(manifest, keptBy(m.kept, manifest.runId))) }));
  if (options.json) {
    ctx.out(JSON.stringify({ mappings: summaries }, null, 2));
    return ExitCode.ok;
  }
  for (const mapping of summaries) for (const line of formatHistory(mapping.name, mapping.runs)) ctx.out(line);
  return ExitCode.ok;
}

export async function versionsCommand(ctx: Context, options: OptionsOf<typeof versionsSpec>, args: string[]): Promise<number> {
  const wanted = args[0] ?? '';
  const opened = await openHistory(ctx, undefined);
  const found = locate(ctx, wanted, opened.mappings.map((m) => ({ name: m.name, localDir: m.localDir })));
  const mapping = opened.mappings.find((m) => m.name === found.name)!;
  const latest = mapping.manifests.filter((m) => m.files).at(-1);
  const mirror = latest?.files?.[found.rel];
  const versions = opened.setup.config.mode === 'append-only' ? vaultVersionsOf(found.rel, mapping.manifests) : versionsOf(found.rel, mapping.manifests, mapping.kept, mirror);
  if (options.json) {
    ctx.out(JSON.stringify({ mapping: found.name, path: found.rel, versions }, null, 2));
    return ExitCode.ok;
  }
  for (const line of formatVersions(`${found.name}/${found.rel}`, versions, opened.setup.config.mode === 'append-only')) ctx.out(line);
  return versions.length > 0 ? ExitCode.ok : ExitCode.runFailed;
}

/** What a run's folders (its first pass and any later ones) keep, path -> size. */
function keptBy(kept: KeptVersions, runId: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [folder, files] of kept) if (runOfFolder(folder) === runId) for (const [file, size] of files) out.set(`${folder}/${file}`, size);
  return out;
}
