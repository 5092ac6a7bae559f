import path from 'node:path';
import type { Context } from '../context.js';
import { isInside, resolveDir } from '../fs/paths.js';
import type { MappingPlan } from '../engine/plan.js';
import type { MappingResult, RestoreResult } from '../engine/result.js';
import { runAll, type RunAllOutcome } from '../engine/run-all.js';
import { UsageError } from '../errors.js';
import { stallMsFor } from '../rclone/watchdog.js';
import { probeArgsFor } from '../rclone/remote.js';
import { keepInDir, restoreMapping, type MoveAside } from '../restore/apply.js';
import { inspectTarget, type InspectedTarget } from '../restore/inspect.js';
import { formatRestorePlan } from '../ui/restore-plan.js';
import { countEndangered, planRestoreTargets, restoreArgsFor, type RestoreSettings } from '../restore/plan.js';
import { runPipeline } from '../run/pipeline.js';
import { detectChanges } from '../engine/sent-transfer.js';
import { readUnfinished, updateUnfinished } from '../run/unfinished.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { checkTarget, refuseRestoreRoot } from '../safety/targets.js';
import { formatBytes, formatUnfinishedBackup, formatUnrecordedRun } from '../ui/format.js';
import { localTimeOf } from '../ui/history-format.js';
import { confirmOrDecline } from '../ui/prompts.js';
import { createRunView, outputMode } from '../ui/run-view.js';
import { arrangeObjects, inspectAt, passesFor, verifyStaged, type AtTarget } from '../restore/at.js';
import { listVaultRuns, readVaultRecords, vaultCache } from '../vault/records.js';
import { FUTURE_ALLOWANCE_MS, vaultRoot } from '../vault/layout.js';
import { locate } from '../versions/locate.js';
import { listHistory, ManifestCache, readManifests, unrecordedNewestRuns } from '../versions/store.js';
import { parseWhen, type When } from '../versions/when.js';
import type { downloadSpec, OptionsOf, restoreSpec } from './specs.js';

export type DownloadOptions = OptionsOf<typeof downloadSpec>;
export type RestoreOptions = OptionsOf<typeof restoreSpec>;

/** `poof restore --at WHEN [PATH...]`: download's safety, a past run's files. */
export async function restoreCommand(ctx: Context, options: RestoreOptions, args: string[]): Promise<number> {
  const at = parseWhen(options.at, new Date());
  if (!at) throw new UsageError(`--at "${options.at}" is not a run or a time`, 'give a run id (poof history), a date such as 2026-11-20, a local time such as 2026-11-20T14:00, or an age such as 3d');
  return restoreFromRemote(ctx, options, { at, paths: args });
}

export function downloadCommand(ctx: Context, options: DownloadOptions): Promise<number> {
  return restoreFromRemote(ctx, options);
}

/** Files listed by name in the plan before asking; the rest are counted. */
const LISTED = 20;

/** download (the mirror) and restore --at (a past run): the same safety, the same steps. */
async function restoreFromRemote(ctx: Context, options: DownloadOptions, asked?: { at: When; paths: string[] }): Promise<number> {
  let past = asked;
  const command = past ? 'restore' : 'download';
  const where = { cwd: ctx.cwd, home: ctx.home };
  const to = options.to !== undefined ? resolveDir(options.to, where) : undefined;
  const keepDir = options.keepDir !== undefined ? resolveDir(options.keepDir, where) : undefined;
  const places = { home: ctx.home, configDir: ctx.paths.configDir, stateDir: ctx.paths.stateDir };
  const dryRun = Boolean(options.dryRun);
  const mode = outputMode(ctx, options);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');

  let inspected: AtTarget[] = [];
  let appendOnly = false;
  const { exitCode, outcome, signal } = await runPipeline(ctx, { command, dryRun, only: options.only }, async ({ setup, remote, rclone, interrupt, log }) => {
    const { config, names } = setup;
    appendOnly = config.mode === 'append-only';
    // An append-only vault has no mirror: the newest run is what a download restores, the newest
    // at or before now (give or take clocks): one dated later is nobody's real run.
    if (appendOnly && !past) past = { at: { kind: 'time', at: new Date(Date.now() + FUTURE_ALLOWANCE_MS) }, paths: [] };
    // PATHs name files or directories inside mappings: only those mappings, only those paths.
    const scopes = new Map<string, string[]>();
    for (const wanted of past?.paths ?? []) {
      const found = locate(ctx, wanted, Object.entries(config.paths).map(([localDir, name]) => ({ name, localDir })));
      scopes.set(found.name, [...(scopes.get(found.name) ?? []), found.rel]);
    }
    const only = scopes.size > 0 ? [...scopes.keys()].filter((name) => !options.only || options.only.includes(name)) : options.only;
    if (options.to !== undefined && to !== undefined) {
      const problem = await refuseRestoreRoot(options.to, to, Object.keys(config.paths));
      if (problem) throw new UsageError(problem);
    }
    const { sizeOnly, modTime } = await detectChanges(rclone, remote, interrupt.signal, ctx.paths.featuresCache);
    const keepsTimes = modTime;
    const settings: RestoreSettings = { config, remote, sizeOnly };
    const targets = planRestoreTargets({ ...settings, only, to, places }).map((target) => (appendOnly ? { ...target, remotePath: vaultRoot(remote.root) } : target));
    const twoWay = new Set(config.sync ?? []);
    for (const target of targets) {
      if (target.refusal) continue;
      // A sync changes the remote copy outside any backup run: no run's files can be rebuilt from it.
      if (past && twoWay.has(target.name)) {
        target.refusal = `${target.name} is two-way: \`poof sync\` changes its remote copy between backup runs, so no past run of it can be rebuilt; what each sync replaced or deleted is kept: \`poof history --only ${target.name}\`, \`poof versions PATH\` (nothing was changed)`;
        continue;
      }
      const reason = await checkTarget(target.localDir, places);
      if (reason) target.refusal = reason;
      else if (keepDir && (keepDir === target.localDir || isInside(keepDir, target.localDir) || isInside(target.localDir, keepDir))) {
        throw new UsageError(`--keep-dir ${keepDir} overlaps ${target.localDir}`, 'choose a directory outside every restored directory');
      }
    }
    // rclone lists a crypt remote opened with a wrong password as empty: prove the keys first.
    await requireCryptKey(rclone, remote, names, interrupt.signal);
    // Plan first, with no task list on screen, so the question below is not garbled.
    if (past && appendOnly) {
      // Everything a run needs is in the vault: its record and the objects it names.
      const cache = vaultCache(ctx.paths.stateDir, remote);
      const runs = await listVaultRuns(rclone, remote, interrupt.signal);
      for (const target of targets) {
        const manifests = target.refusal ? [] : await readVaultRecords(rclone, remote, cache, target.name, runs.get(target.name) ?? [], interrupt.signal);
        inspected.push(await inspectAt(rclone, target, settings, { manifests, kept: new Map() }, past.at, scopes.get(target.name) ?? [], interrupt.signal, true));
      }
      if (mode !== 'silent') for (const target of inspected.filter((t) => t.runId && !t.refusal)) ctx.out(`${target.name}: as after run ${target.runId} (${localTimeOf(target.runId!)})`);
    } else if (past) {
      // Everything a past run needs is on the remote: its manifest, the mirror, the runs' folders.
      const cache = new ManifestCache(ctx.paths.stateDir, remote);
      const listing = await listHistory(rclone, remote, interrupt.signal, cache);
      for (const target of targets) {
        const manifests = target.refusal ? [] : await readManifests(rclone, remote, cache, target.name, listing.manifests.get(target.name) ?? [], interrupt.signal);
        const versions = { manifests, kept: listing.kept.get(target.name) ?? new Map() };
        inspected.push(await inspectAt(rclone, target, settings, versions, past.at, scopes.get(target.name) ?? [], interrupt.signal));
      }
      if (mode !== 'silent') for (const target of inspected.filter((t) => t.runId && !t.refusal)) ctx.out(`${target.name}: as after run ${target.runId} (${localTimeOf(target.runId!)})`);
    } else for (const target of targets) inspected.push(await inspectTarget(rclone, target, settings, interrupt.signal));
    // A refusal is told by the run's own lines (and by the plan only when nothing runs).
    if (mode !== 'silent') for (const target of inspected.filter((t) => dryRun || !t.refusal)) for (const line of formatRestorePlan(target, LISTED)) ctx.out(line);
    const { backups } = await readUnfinished(ctx.paths.unfinishedFile);
    for (const target of inspected) {
      const unfinished = backups[target.name];
      if (!unfinished) continue;
      target.unfinishedBackup = unfinished;
      ctx.err(`poof: ${formatUnfinishedBackup(target.name, unfinished)}`);
    }
    if (!past) {
      // What this machine's state cannot know (another machine's run, or a lost laptop's): the
      // remote shows a newest run that left its folder and no record.
      const asked = inspected.filter((t) => !t.refusal && !backups[t.name]).map((t) => t.name);
      const unrecorded = asked.length > 0 ? await unrecordedNewestRuns(rclone, remote, asked, interrupt.signal) : undefined;
      for (const [name, run] of unrecorded ?? []) ctx.err(`poof: ${formatUnrecordedRun(name, run)}`);
    }
    if (interrupt.signal.aborted) return { results: [], notRun: inspected.map((t) => t.name) };
    if (dryRun) return { results: inspected.map(dryRunResult), notRun: [] };
    await confirmRestore(ctx, inspected, options, keepDir, interrupt.signal, command);

    const plans: MappingPlan[] = inspected.map((target) => ({
      name: target.name,
      localDir: target.localDir,
      remotePath: target.remotePath,
      args: [],
      stallMs: stallMsFor(config.rclone?.stallSeconds),
      probeArgs: probeArgsFor(remote),
      ...(target.refusal ? { refusal: target.refusal } : {}),
    }));
    const { default: trash } = await import('trash');
    const toTrash: MoveAside = (files) => trash(files, { glob: false });
    const view = await createRunView(ctx, mode, plans, { direction: 'restore', dryRun: false });
    const hooks = { emit: view.emit, log: log.write, cancelSignal: interrupt.signal, dryRun: false };
    const ran = await runAll<RestoreResult>(
      plans,
      async (plan) => {
        const target = inspected.find((t) => t.name === plan.name) as InspectedTarget;
        const keptIn = keepDir ? path.join(keepDir, `${target.name}-${stamp}`) : undefined;
        const restoreMode = {
          moveAside: keptIn ? keepInDir(target.localDir, keptIn) : toTrash,
          keptIn,
          linksMode: config.symlinks === 'links',
          argsFor: (stagingDir: string) => restoreArgsFor(target, settings, stagingDir),
          ...(past ? { passesFor: (stagingDir: string) => passesFor(target, settings, stagingDir), verifyStaged: (stagingDir: string) => verifyStaged(target, stagingDir, keepsTimes || appendOnly, config.symlinks === 'links') } : {}),
          ...(appendOnly ? { arrange: (stagingDir: string) => arrangeObjects(target, stagingDir) } : {}),
        };
        if (plan.refusal) return restoreMapping(rclone, target, plan, restoreMode, hooks);
        // Recorded before anything local changes, removed only when the restore finished: a
        // backup of a half-restored directory would replace the good remote copy.
        await updateUnfinished(ctx.paths.unfinishedFile, (state) => {
          state.restores[target.localDir] = { name: target.name, localDir: target.localDir, started: new Date().toISOString() };
        });
        const result = await restoreMapping(rclone, target, plan, restoreMode, hooks);
        if (result.status === 'ok') await updateUnfinished(ctx.paths.unfinishedFile, (state) => void delete state.restores[target.localDir]);
        return result;
      },
      { cancelSignal: interrupt.signal, emit: view.emit },
    );
    await view.finish();
    return ran;
  });
  return report(ctx, options, exitCode, inspected, outcome, dryRun, signal, command);
}

/** Ask before anything local is replaced or deleted: on a terminal, or --yes without one. */
async function confirmRestore(ctx: Context, inspected: InspectedTarget[], options: DownloadOptions, keepDir: string | undefined, signal: AbortSignal, command: string): Promise<void> {
  const endangered = countEndangered(inspected.map((t) => t.changes));
  if (endangered.files === 0 || options.yes) return;
  const where = keepDir ? `moved to ${keepDir}` : 'moved to the trash first';
  const what = `${endangered.files} local ${endangered.files === 1 ? 'file' : 'files'} (${formatBytes(endangered.bytes)})`;
  if (!ctx.interactive) {
    throw new UsageError(`${command} would replace or delete ${what}; nothing was changed`, `check the list above, then run it again on a terminal to confirm, or pass --yes (they are ${where})`);
  }
  await confirmOrDecline(`Restore, replacing or deleting ${what}? They are ${where}.`, `${command} cancelled; nothing was changed`, signal);
}

/** Pure: the result of a mapping in a dry run, from its plan. */
function dryRunResult(target: InspectedTarget): RestoreResult {
  const base = { kind: 'restore' as const, name: target.name, localDir: target.localDir, remotePath: target.remotePath, errors: [], durationMs: 0, trashed: 0 };
  if (target.refusal || !target.changes) return { ...base, status: 'refused', reason: target.refusal ?? 'not inspected', copied: 0, deleted: 0 };
  const { restore, replace, remove } = target.changes;
  return { ...base, status: 'ok', copied: restore.length + replace.length, deleted: remove.length };
}

function report(ctx: Context, options: DownloadOptions, exitCode: number, inspected: AtTarget[], outcome: RunAllOutcome<RestoreResult | MappingResult>, dryRun: boolean, signal: NodeJS.Signals | undefined, command: string): number {
  const { results } = outcome;
  const ok = exitCode === 0;
  if (options.json) {
    const mappings = inspected.map(({ passes: _passes, ...t }) => {
      const result = results.find((r) => r.name === t.name);
      return { ...t, ...(result ? { result } : {}) };
    });
    ctx.out(JSON.stringify({ ok, command, dryRun, ...(signal ? { interrupted: signal } : {}), exitCode, mappings, notRun: outcome.notRun }, null, 2));
    return exitCode;
  }
  if (dryRun) {
    if (!options.quiet) ctx.out(ok ? `${command} dry run: nothing was changed` : `${command} dry run: some mappings would be refused (above); nothing was changed`);
    return exitCode;
  }
  for (const result of results.filter((r) => r.status === 'failed' && r.rcloneExit !== undefined && r.rcloneExit > 0)) {
    const advice = result.advice;
    if (advice) ctx.err(`poof: ${result.name}: ${advice} (log: ${ctx.paths.logFile})`);
  }
  const trashed = results.reduce((sum, r) => sum + (r.kind === 'restore' ? r.trashed : 0), 0);
  const kept = trashed > 0 ? `; ${trashed} replaced or deleted local ${trashed === 1 ? 'file is' : 'files are'} ${options.keepDir ? 'in --keep-dir' : 'in the trash'}` : '';
  if (ok) {
    if (!options.quiet) ctx.out(`${command} complete: ${results.length} of ${results.length} mappings restored${kept}`);
  } else {
    const bad = results.filter((r) => r.status !== 'ok').length + outcome.notRun.length;
    // An interruption after the last mapping finished left nothing unfinished: the signal line said it all.
    if (bad > 0)     ctx.err(`poof: ${command} incomplete: ${bad} of ${inspected.length} mappings were not restored${kept}`);
  }
  return exitCode;
}
