import { lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import { entriesBelow } from '../fs/files-below.js';
import path from 'node:path';
import type { Context } from '../context.js';
import type { RunAllOutcome } from '../engine/run-all.js';
import { runMapping } from '../engine/run-mapping.js';
import type { WatchResult } from '../engine/result.js';
import { ExitCode, UsageError } from '../errors.js';
import { normalizeDir } from '../fs/paths.js';
import { runProgram } from '../process/run.js';
import { buildSyncArgs, renderListedFilters } from '../rclone/args.js';
import { mappingPath, probeArgsFor, transferSettings } from '../rclone/remote.js';
import { stallMsFor } from '../rclone/watchdog.js';
import { acquireLock } from '../run/lock.js';
import { runPipeline } from '../run/pipeline.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { WatchHistory } from '../watch/history.js';
import { watchTiming } from '../watch/queue.js';
import { watchLoop, type PathState, type WatchAdapters, type WatchTarget, type WorkOutcome } from '../watch/run.js';
import { inotifyLimits, parcelWatcher, watchLimitAdvice } from '../watch/watcher.js';
import { createWatchView } from '../ui/watch-view.js';
import type { OptionsOf, watchSpec } from './specs.js';

export type WatchOptions = OptionsOf<typeof watchSpec>;

/**
 * `poof watch`: every mapped directory watched, and what changes copied seconds after it is
 * saved (`rclone copy --files-from`, one batch at a time under the lock); deletions, renames and
 * anything missed go by a full `poof backup` of the mapping at a calm moment and periodically.
 */
export async function watchCommand(ctx: Context, options: WatchOptions): Promise<number> {
  const { exitCode } = await runPipeline(ctx, { command: 'watch', dryRun: false, only: options.only, lockPerBatch: true }, async ({ setup, remote, rclone, interrupt, log, takeLock }) => {
    const { config } = setup;
    // One watch per config: a second would copy every change twice.
    const single = await acquireLock(path.join(ctx.paths.stateDir, 'watch.lock'), 'watch').catch((error: Error) => {
      throw new UsageError(`poof watch is already running: ${error.message.replace(/^another poof run holds the lock: /, '')}`, 'stop it first (it runs until Ctrl-C or SIGTERM)');
    });
    try {
      await requireCryptKey(rclone, remote, setup.names, interrupt.signal, true);
      const twoWay = new Set(config.sync ?? []);
      const targets: WatchTarget[] = [];
      for (const [localDir, name] of Object.entries(config.paths)) {
        if (options.only && !options.only.includes(name)) continue;
        if (twoWay.has(name)) ctx.out(`${name}: two-way: kept in step by \`poof sync\`, not watched`);
        else targets.push({ name, localDir: normalizeDir(localDir) });
      }
      if (targets.length === 0) throw new UsageError('no mapping to watch', 'map a directory with poof config, or give --only a mapping that is not two-way');
      const appendOnly = config.mode === 'append-only';
      const settings = transferSettings(config, remote);
      const history = new WatchHistory(ctx, config, remote, rclone);
      const scratch = path.join(ctx.paths.stateDir, 'watch');
      await mkdir(scratch, { recursive: true, mode: 0o700 });
      const view = createWatchView(ctx, Boolean(options.quiet));
      let wake: () => void = () => undefined;
      const limits = await inotifyLimits();

      const backup = async (names: string[], signal: AbortSignal): Promise<Map<string, WorkOutcome>> => {
        const args = [...process.execArgv, process.argv[1]!, '--confdir', ctx.paths.configDir, 'backup', ...names.flatMap((name) => ['--only', name]), '--json'];
        const env = Object.fromEntries(Object.entries(ctx.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
        const ran = await runProgram(process.execPath, args, { env, cancelSignal: signal, onStderrLine: (line) => log.write(`# backup: ${line}`) });
        const out = new Map<string, WorkOutcome>();
        let reported: { mappings?: Array<{ name: string; status: string; copied: number; reason?: string }> } = {};
        try {
          reported = JSON.parse(ran.stdout) as typeof reported;
        } catch {
          // No JSON: it stopped before it ran (the lock held, a broken config); said below.
        }
        const lastLine = ran.stderr.trim().split('\n').at(-1)?.replace(/^poof: /, '') ?? '';
        for (const name of names) {
          const result = reported.mappings?.find((m) => m.name === name);
          if (result && (result.status === 'ok' || result.status === 'partial')) out.set(name, { ok: true, copied: result.copied });
          else out.set(name, { ok: false, reason: result?.reason ?? (lastLine || `poof backup exited ${ran.exitCode}`), ...(ran.exitCode === ExitCode.locked ? { locked: true } : {}) });
        }
        return out;
      };

      const adapters: WatchAdapters = {
        watcher: await parcelWatcher(),
        now: () => Date.now(),
        stat: statPath,
        walk: async (dir) => (await entriesBelow(dir)).map((entry) => entry.rel),
        lock: takeLock,
        // An append-only vault is only ever added to by a backup run of its own: each batch is one.
        copy: appendOnly ? undefined : async (target, files, signal) => {
          const backupDir = await history.folderFor(target.name);
          const list = path.join(scratch, `${target.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.filters`);
          // A name with a line break cannot be a filter line: the full backup takes it.
          await writeFile(list, renderListedFilters(config.excludes, files.filter((file) => !/[\r\n]/.test(file))), { mode: 0o600 });
          const remotePath = mappingPath(config, remote, target.name);
          const syncInput = { ...settings, source: target.localDir, dest: remotePath, copyOnly: true, filterFrom: list, ...(backupDir ? { backupDir } : {}) };
          const plan = { name: target.name, localDir: target.localDir, remotePath, args: buildSyncArgs(syncInput), syncInput, copyOnly: true, stallMs: stallMsFor(config.rclone?.stallSeconds), probeArgs: probeArgsFor(remote) };
          const result = await runMapping(rclone, plan, { emit: () => undefined, log: log.write, cancelSignal: signal, dryRun: false });
          await rm(list, { force: true });
          if (result.status === 'ok' || result.status === 'partial') return { ok: true, copied: result.copied };
          return { ok: false, reason: result.reason ?? `rclone exited ${result.rcloneExit ?? '?'}` };
        },
        backup,
        sleep: (ms, signal) =>
          new Promise<void>((resolve) => {
            const done = () => {
              clearTimeout(timer);
              signal.removeEventListener('abort', done);
              wake = () => undefined;
              resolve();
            };
            // Events, a signal or the next due work wake it; idle, it wakes once a minute at most.
            const timer = setTimeout(done, Math.min(ms, 60_000));
            signal.addEventListener('abort', done);
            wake = done;
          }),
        wake: () => wake(),
        report: (report) => {
          if (report.kind === 'unwatched') view.report({ ...report, advice: watchLimitAdvice(report.reason, limits) });
          else view.report(report);
        },
      };
      const totals = await watchLoop(targets, watchTiming(config), adapters, interrupt.signal);
      view.finish();
      const outcome: RunAllOutcome<WatchResult> = {
        results: targets.map((target) => {
          const total = totals.get(target.name)!;
          return {
            kind: 'watch',
            name: target.name,
            localDir: target.localDir,
            remotePath: mappingPath(config, remote, target.name),
            status: total.failing ? 'failed' : 'ok',
            ...(total.failing ? { reason: total.failing } : {}),
            copied: total.copied,
            deleted: 0,
            errors: [],
            durationMs: 0,
            batches: total.batches,
            backups: total.backups,
          };
        }),
        notRun: [],
      };
      return outcome;
    } finally {
      await single.release();
    }
  });
  return exitCode;
}

async function statPath(file: string): Promise<PathState> {
  try {
    const info = await lstat(file);
    return { kind: info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other', size: info.size, mtimeMs: info.mtimeMs };
  } catch {
    return { kind: 'missing' };
  }
}
