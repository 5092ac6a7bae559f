import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { ENCODED_BY_RCLONE } from '../fs/local-tree.js';
import { entriesBelow } from '../fs/files-below.js';
import path from 'node:path';
import type { Context } from '../context.js';
import type { RunAllOutcome } from '../engine/run-all.js';
import { runMapping } from '../engine/run-mapping.js';
import { detectChanges } from '../engine/sent-transfer.js';
import type { WatchResult } from '../engine/result.js';
import { ExitCode, RunFailedError, UsageError } from '../errors.js';
import { normalizeDir } from '../fs/paths.js';
import { runProgram } from '../process/run.js';
import { buildSyncArgs, LINK_SUFFIX, renderListedFilters } from '../rclone/args.js';
import { mappingPath, mirrorDirOnDisk, probeArgsFor, transferSettings } from '../rclone/remote.js';
import { stallMsFor } from '../rclone/watchdog.js';
import { acquireLock } from '../run/lock.js';
import { trackBackup } from '../run/inflight.js';
import { RUN_BY_WATCH } from '../run/pipeline.js';
import type { SymlinkMode } from '../config/schema.js';
import { runPipeline } from '../run/pipeline.js';
import { requireCryptKey } from '../safety/crypt-key.js';
import { refuseOverlap } from '../safety/sources.js';
import { WatchHistory } from '../watch/history.js';
import { watchTiming } from '../watch/queue.js';
import { watchLoop, type PathState, type WatchAdapters, type WatchTarget, type WorkOutcome } from '../watch/run.js';
import { inotifyLimits, parcelWatcher, watchLimitAdvice } from '../watch/watcher.js';
import { createWatchView } from '../ui/watch-view.js';
import type { OptionsOf, watchSpec } from './specs.js';

export type WatchOptions = OptionsOf<typeof watchSpec>;

/**
 * `poof watch`: every mapped directory watched, and what changes copied seconds after it is
 * saved (one `rclone copy` of exactly the changed files per batch, under the lock); deletions, renames and
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
        const overlap = refuseOverlap(normalizeDir(localDir), remote, config, name);
        if (twoWay.has(name)) ctx.out(`${name}: two-way: kept in step by \`poof sync\`, not watched`);
        // Copies into the folder watched would be seen as changes, and copied again.
        else if (overlap) ctx.err(`poof: ${name}: REFUSED: ${overlap}; not watched`);
        else {
          // A mapped folder may be a link: its watch and its events are on the real path.
          const dir = normalizeDir(localDir);
          targets.push({ name, localDir: dir, watchDir: await realpath(dir).catch(() => dir) });
        }
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
      // Storage that keeps no times shows a same-size edit by nothing: a batch's files are sent
      // anyway then (the watcher said they changed).
      const { sizeOnly } = await detectChanges(rclone, remote, interrupt.signal, ctx.paths.featuresCache);

      const backup = async (names: string[], signal: AbortSignal): Promise<Map<string, WorkOutcome>> => {
        const args = [...process.execArgv, process.argv[1]!, '--confdir', ctx.paths.configDir, 'backup', ...names.flatMap((name) => ['--only', name]), '--json'];
        // Marked as watch's own: a run that wants the lock meanwhile waits for it as for a batch.
        const env = { ...Object.fromEntries(Object.entries(ctx.env).filter((entry): entry is [string, string] => entry[1] !== undefined)), [RUN_BY_WATCH]: '1' };
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
          else {
            const reason = result?.reason ?? (lastLine || `poof backup exited ${ran.exitCode}`);
            out.set(name, { ok: false, reason, ...(ran.exitCode === ExitCode.locked ? { locked: true } : {}), ...(/rclone\.maxDelete/.test(reason) ? { hold: true } : {}) });
          }
        }
        return out;
      };

      // poof.conf and rclone-poof.conf as watch read them: its full backups read them anew, so a
      // change (another remote, crypt turned on, new excludes) would split watch between two.
      const configState = async () => (await Promise.all([ctx.paths.poofConf, ctx.paths.rcloneConf].map(async (file) => readFile(file).catch(() => Buffer.alloc(0))))).map((data) => createHash('sha256').update(data).digest('hex')).join(':');
      const startedWith = await configState();
      let stoppedBecause: string | undefined;

      const watcher = await parcelWatcher(path.join(scratch, 'anchor'));
      const adapters: WatchAdapters = {
        watcher,
        // A steady clock: the wall clock set back (or forward) must not stall or rush the queue.
        now: () => performance.now(),
        realDir: (dir) => realpath(dir).catch(() => dir),
        stale: async () => {
          if ((await configState()) === startedWith) return undefined;
          stoppedBecause = 'poof.conf or rclone-poof.conf changed since poof watch started';
          return stoppedBecause;
        },
        stat: statPath,
        walk: async (dir) => (await entriesBelow(dir)).filter((entry) => entry.kind !== 'other').map((entry) => entry.rel),
        identity: async (dir) => {
          const info = await stat(dir).catch(() => undefined);
          return info?.isDirectory() ? `${info.dev}:${info.ino}` : undefined;
        },
        lock: takeLock,
        // An append-only vault is only ever added to by a backup run of its own, and a "before"
        // hook (mounting the disk the remote is on, say) belongs to a run: each batch is one then.
        copy: appendOnly || config.hooks?.before ? undefined : async (target, files, signal) => {
          // A local-directory "cloud", whose stored copies can be looked at (see namesForRclone).
          const mirror = remote.crypt ? undefined : mirrorDirOnDisk(remote, target.name);
          const { names, needsFull } = await namesForRclone(target.localDir, files, config.symlinks ?? 'follow', mirror);
          if (names.length === 0) return { ok: true, copied: 0, ...(needsFull ? { needsFull } : {}) };
          const backupDir = await history.folderFor(target.name);
          const list = path.join(scratch, `${target.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.filters`);
          await writeFile(list, renderListedFilters(config.excludes, names), { mode: 0o600 });
          const remotePath = mappingPath(config, remote, target.name);
          const syncInput = { ...settings, source: target.localDir, dest: remotePath, copyOnly: true, filterFrom: list, ...(sizeOnly ? { ignoreTimes: true } : {}), ...(backupDir ? { backupDir } : {}) };
          const plan = { name: target.name, localDir: target.localDir, remotePath, args: buildSyncArgs(syncInput), syncInput, copyOnly: true, stallMs: stallMsFor(config.rclone?.stallSeconds), probeArgs: probeArgsFor(remote) };
          // Files in flight are on record until the batch ends, as for a backup: after a kill, a
          // download says which may be cut short on the remote.
          const tracker = await trackBackup(ctx.paths.unfinishedFile, target.name);
          const result = await runMapping(rclone, plan, { emit: (event) => tracker.see(event), log: log.write, cancelSignal: signal, dryRun: false });
          await tracker.finish(result);
          await rm(list, { force: true });
          if (result.status === 'ok' || result.status === 'partial') return { ok: true, copied: result.copied, ...(needsFull ? { needsFull } : {}) };
          return { ok: false, reason: result.reason ?? `rclone exited ${result.rcloneExit ?? '?'}` };
        },
        backup,
        replacingGoesFull: settings.backendType === 'webdav' || sizeOnly,
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
      const totals = await watchLoop(targets, watchTiming(config), adapters, interrupt.signal).finally(() => watcher.close?.());
      view.finish();
      // Exit non-zero: a service manager starts it again, with the new config.
      if (stoppedBecause) throw new RunFailedError(`${stoppedBecause}: stopped, so that nothing is copied by the old settings`, 'start poof watch again (a schedule installed with `poof schedule install --command watch` restarts it by itself)');
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
    return { kind: info.isDirectory() ? 'directory' : info.isFile() ? 'file' : info.isSymbolicLink() ? 'link' : 'other', size: info.size, mtimeMs: info.mtimeMs };
  } catch {
    return { kind: 'missing' };
  }
}

/**
 * The names rclone gives a batch's files, by poof.conf's "symlinks": a link is what it points to
 * ("follow": a file, or a folder, which only a full backup copies), a `.rclonelink` file
 * ("links"), or nothing ("skip").
 */
async function namesForRclone(localDir: string, files: string[], mode: SymlinkMode, mirror?: string): Promise<{ names: string[]; needsFull: boolean }> {
  const names: string[] = [];
  let needsFull = false;
  for (const rel of files) {
    // Names rclone spells otherwise (control characters, its encoded ones) or trims (U+0085) in
    // a filter line: the full backup copies them, by rclone's own listing.
    if (/[\u0000-\u001f\u007f\u0085]/.test(rel) || ENCODED_BY_RCLONE.test(rel)) {
      needsFull = true;
      continue;
    }
    const info = await lstat(path.join(localDir, rel)).catch(() => undefined);
    // Where the remote copy holds another kind under this name or a folder above it (a link
    // stored as NAME.rclonelink, a file, a folder), the full backup takes that away first.
    if (mirror && info && (await inTheWayOnDisk(mirror, rel, mode === 'links' && info.isSymbolicLink()))) {
      needsFull = true;
      continue;
    }
    if (!info?.isSymbolicLink()) {
      names.push(rel);
      continue;
    }
    if (mode === 'links') names.push(`${rel}${LINK_SUFFIX}`);
    else if (mode === 'follow') {
      const target = await stat(path.join(localDir, rel)).catch(() => undefined);
      if (target?.isFile()) names.push(rel);
      else if (target?.isDirectory()) needsFull = true;
    }
  }
  return { names, needsFull };
}

/**
 * Would copying `rel` (a link kept as a link when `isLink`) into `mirror`, on this disk, leave
 * two kinds under one name? A folder above it stored as a file or as a link (`NAME.rclonelink`),
 * or, for a link, anything stored under its name; for anything else a folder there, the link it
 * replaced (`rel.rclonelink`), or a real link left by an earlier version. Until the full backup
 * takes the old kind away, the remote copy would hold both, which a restore refuses.
 */
async function inTheWayOnDisk(mirror: string, rel: string, isLink: boolean): Promise<boolean> {
  const at = (file: string) => lstat(file).catch(() => undefined);
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const above = path.join(mirror, ...parts.slice(0, i));
    if (await at(`${above}${LINK_SUFFIX}`)) return true;
    const info = await at(above);
    if (!info) return false;
    if (!info.isDirectory()) return true;
  }
  const stored = await at(path.join(mirror, rel));
  if (isLink) return stored !== undefined;
  return Boolean(stored?.isSymbolicLink() || stored?.isDirectory() || (await at(path.join(mirror, `${rel}${LINK_SUFFIX}`))));
}
