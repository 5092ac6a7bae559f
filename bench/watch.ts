// `npm run bench -- --watch-idle`: the cost of an idle `poof watch` over a large tree, and how
// soon a save reaches the remote, on a local-directory remote.
// - A tree of --watch-files (100,000) tiny files, 100 to a directory.
// - RSS of the poof process after start-up (its catch-up backup done) and after --idle-minutes
//   (default 10) of idle; CPU used while idle (from /proc/<pid>/stat); the inotify watches it holds.
// - Save-to-remote latency of --saves (5) single-file saves, with the default timing (2 s quiet).
// - In the same run, for comparison: what a scheduled backup costs instead, `poof backup` with
//   nothing changed and the original's `rclone sync -L SRC DST`, on the same tree.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cliPath } from '../test/helpers/sandbox.js';

export interface WatchBenchOptions {
  files: number;
  idleMinutes: number;
  saves: number;
  rclone: string;
  dir?: string | undefined;
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function rssMiB(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1] ?? NaN) / 1024;
}

/** CPU seconds (user + system) a process has used. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** The inotify watches a process holds, from /proc/<pid>/fdinfo. */
function inotifyWatches(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    count += (info.match(/^inotify wd:/gm) ?? []).length;
  }
  return count;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; seconds: number; out: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, seconds: (performance.now() - started) / 1000, out }));
  });
}

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${what}: not within ${ms / 1000} s`);
}

export async function benchWatchIdle(options: WatchBenchOptions): Promise<void> {
  const base = options.dir ?? (existsSync('/dev/shm') && statfsSync('/dev/shm').bavail * statfsSync('/dev/shm').bsize > 2 * 2 ** 30 ? '/dev/shm' : os.tmpdir());
  const work = await mkdtemp(path.join(base, 'poof-bench-watch-'));
  const src = path.join(work, 'src');
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(RCLONE_|POOF_|XDG_)/.test(k) && k !== 'AWS_CA_BUNDLE') env[k] = v;
  Object.assign(env, { HOME: work, POOF_CONFIG_DIR: path.join(work, 'conf'), POOF_RCLONE: options.rclone });
  try {
    for (let i = 0; i < options.files; i++) {
      const dir = path.join(src, `d${String(Math.floor(i / 100)).padStart(4, '0')}`);
      if (i % 100 === 0) await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `f${i}.txt`), `${i}\n`);
    }
    const cloud = path.join(work, 'cloud');
    for (const args of [['config', '--map', `${src}=Bench`, '--bucket', 'bench'], ['cconfig', '--provider', 'local', '--root', cloud]]) {
      const made = await run(process.execPath, [cliPath, ...args], env);
      if (made.code !== 0) throw new Error(`poof ${args[0]}: ${made.out}`);
    }
    process.stdout.write(`watch bench: ${options.files} files in ${Math.ceil(options.files / 100)} directories, ${work}\n`);
    // For comparison, measured in the same run: the scheduled alternative's cost of one change.
    const first = await run(process.execPath, [cliPath, 'backup', '--quiet'], env);
    if (first.code !== 0) throw new Error(`poof backup: ${first.out}`);
    const noChange = await run(process.execPath, [cliPath, 'backup', '--quiet'], env);
    const original = await run(options.rclone, ['sync', '-L', src, path.join(work, 'original'), '--config', '/dev/null'], env);
    const originalNoChange = await run(options.rclone, ['sync', '-L', src, path.join(work, 'original'), '--config', '/dev/null'], env);

    const watch = spawn(process.execPath, [cliPath, 'watch'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => (out += d.toString()));
    watch.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const started = performance.now();
    try {
      await waitFor(() => /full backup done/.test(out), 30 * 60_000, 'the catch-up backup');
      const startup = (performance.now() - started) / 1000;
      // Settled: the catch-up's child process gone, the event loop idle.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const pid = watch.pid!;
      const rssStart = rssMiB(pid);
      const watches = inotifyWatches(pid);
      const cpuStart = cpuSeconds(pid);
      const idleStart = performance.now();
      const samples: number[] = [];
      while (performance.now() - idleStart < options.idleMinutes * 60_000) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(60_000, options.idleMinutes * 60_000)));
        samples.push(rssMiB(pid));
      }
      const idleSeconds = (performance.now() - idleStart) / 1000;
      const cpuIdle = cpuSeconds(pid) - cpuStart;
      const rssEnd = rssMiB(pid);
      const mirror = path.join(cloud, 'bench', 'Bench');
      const latencies: number[] = [];
      for (let i = 0; i < options.saves; i++) {
        const rel = path.join(`d${String((i * 37) % Math.ceil(options.files / 100)).padStart(4, '0')}`, `saved-${i}.txt`);
        const content = `saved ${i} ${Date.now()}\n`;
        const saved = performance.now();
        await writeFile(path.join(src, rel), content);
        await waitFor(async () => (await readFile(path.join(mirror, rel), 'utf8').catch(() => '')) === content, 60_000, `save ${i}`);
        latencies.push((performance.now() - saved) / 1000);
        await new Promise((resolve) => setTimeout(resolve, 3_000));
      }
      const f = (x: number) => x.toFixed(2);
      const sorted = [...latencies].sort((a, b) => a - b);
      process.stdout.write('\n| measure | value |\n|---|---|\n');
      process.stdout.write(`| start-up to the end of the catch-up backup | ${f(startup)} s |\n`);
      process.stdout.write(`| inotify watches held | ${watches} |\n`);
      process.stdout.write(`| RSS after start-up | ${rssStart.toFixed(1)} MiB |\n`);
      process.stdout.write(`| RSS after ${options.idleMinutes} min idle (per-minute samples: ${samples.map((x) => x.toFixed(1)).join(', ')}) | ${rssEnd.toFixed(1)} MiB |\n`);
      process.stdout.write(`| CPU while idle | ${f(cpuIdle)} s in ${f(idleSeconds)} s (${((cpuIdle / idleSeconds) * 100).toFixed(3)}%) |\n`);
      process.stdout.write(`| save to remote, ${options.saves} saves (2 s quiet) | median ${f(sorted[Math.floor(sorted.length / 2)]!)} s, max ${f(sorted.at(-1)!)} s |\n`);
      process.stdout.write(`| instead, \`poof backup\` with nothing changed | ${f(noChange.seconds)} s (first: ${f(first.seconds)} s) |\n`);
      process.stdout.write(`| instead, the original's \`rclone sync -L\` with nothing changed | ${f(originalNoChange.seconds)} s (first: ${f(original.seconds)} s) |\n`);
      process.stdout.write(`\nrclone ${options.rclone}; node ${process.version}; ${os.cpus().length} cpus; ${new Date().toISOString()}\n`);
    } finally {
      if (watch.pid) process.kill(-watch.pid, 'SIGINT');
      await new Promise((resolve) => watch.on('close', resolve));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
