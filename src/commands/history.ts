import path from 'node:path';
import type { Context } from '../context.js';
import { ExitCode, UsageError } from '../errors.js';
import { isInside, normalizeDir } from '../fs/paths.js';
import { formatHistory, formatVersions, summarizeRun } from '../ui/history-format.js';
import { openHistory } from '../run/open-history.js';
import { versionsOf } from '../versions/state.js';
import type { historySpec, OptionsOf, versionsSpec } from './specs.js';

export async function historyCommand(ctx: Context, options: OptionsOf<typeof historySpec>): Promise<number> {
  const { mappings } = await openHistory(ctx, options.only);
  const summaries = mappings.map((m) => ({ name: m.name, runs: m.manifests.map((manifest) => summarizeRun(manifest, m.kept.get(manifest.runId))) }));
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
  const versions = versionsOf(found.rel, mapping.manifests, mapping.kept, mirror);
  if (options.json) {
    ctx.out(JSON.stringify({ mapping: found.name, path: found.rel, versions }, null, 2));
    return ExitCode.ok;
  }
  for (const line of formatVersions(`${found.name}/${found.rel}`, versions)) ctx.out(line);
  return versions.length > 0 ? ExitCode.ok : ExitCode.runFailed;
}

/**
 * A file given as a local path in a mapped directory (absolute or relative to the working
 * directory) or as NAME/path: its mapping and its path inside it.
 */
export function locate(ctx: Pick<Context, 'cwd'>, wanted: string, mappings: Array<{ name: string; localDir: string }>): { name: string; rel: string } {
  if (wanted.trim() === '') throw new UsageError('the path is empty', 'give a file in a mapped directory, e.g. ~/Documents/report.odt or Documents/report.odt');
  const absolute = normalizeDir(path.resolve(ctx.cwd, wanted));
  for (const m of mappings) {
    const dir = normalizeDir(m.localDir);
    if (isInside(absolute, dir)) return { name: m.name, rel: path.relative(dir, absolute).split(path.sep).join('/') };
  }
  const [first, ...rest] = wanted.split('/');
  const byName = mappings.find((m) => m.name === first);
  if (byName && rest.length > 0 && rest.every((part) => part !== '' && part !== '.' && part !== '..')) return { name: byName.name, rel: rest.join('/') };
  throw new UsageError(`${wanted} is in no mapped directory`, `give a file inside one of: ${mappings.map((m) => m.localDir).join(', ')} (or NAME/path)`);
}
