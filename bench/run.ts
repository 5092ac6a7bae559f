// `npm run bench`: poof backup against raw rclone with the same flags, and against the original
// poof's command line (`rclone sync -L SRC DST`, rclone's defaults), on a local directory, SFTP
// (`rclone serve sftp`) and S3 (s3rver), all on 127.0.0.1. First run and no-change run, in one
// process, interleaved, so the ratios are fair on a noisy shared machine.
// A fourth remote, openssh, is a real OpenSSH sshd logged into as the user running the bench,
// with a smaller tree of its own (--openssh-files, 300): rclone's defaults run md5sum over SSH
// once per file sent, a shell start-up each, which makes the original's first run minutes long.
// Options: --files N (10000) --large K (3) --large-mib M (32) --repeat R (3) --remotes local,sftp,s3,openssh
//          --openssh-files N (300)
//          --dir DIR (default /dev/shm when it has room: this machine's disk timings vary 2x)
//          --rclone PATH (default: rclone on PATH) the rclone binary every variant and server uses
//          --history-only: only the history rows (a run changing 1% of the files, and a no-change
//          run, with history on and off); --no-history-rows: all but those
//          --append-only: only the append-only rows (a first run, a run changing 1% of the files and
//          a no-change run, mirror with history against "mode": "append-only"), each checked
//          --watch-idle: only the cost of an idle `poof watch` (bench/watch.ts), with
//          --watch-files N (100000) --idle-minutes M (10) --saves S (5)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cliPath } from '../test/helpers/sandbox.js';
import { startRcloneSftp, startS3, startSshd, type RunningServer } from '../test/helpers/servers.js';
import { generateTree } from './tree.js';
import { benchWatchIdle } from './watch.js';

interface Timed {
  seconds: number;
  /** Peak resident memory in MiB of the largest process (GNU time), when available. */
  peakMiB?: number;
  code: number | null;
  stderr: string;
}

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    large: { type: 'string', default: '3' },
    'large-mib': { type: 'string', default: '32' },
    repeat: { type: 'string', default: '3' },
    remotes: { type: 'string', default: 'local,sftp,s3,openssh' },
    'openssh-files': { type: 'string', default: '300' },
    dir: { type: 'string' },
    rclone: { type: 'string' },
    'history-only': { type: 'boolean', default: false },
    'no-history-rows': { type: 'boolean', default: false },
    'append-only': { type: 'boolean', default: false },
    'watch-idle': { type: 'boolean', default: false },
    'watch-files': { type: 'string', default: '100000' },
    'idle-minutes': { type: 'string', default: '10' },
    saves: { type: 'string', default: '5' },
  },
});
// One rclone for poof (POOF_RCLONE), the raw and original command lines, and the servers (PATH).
const RCLONE = values.rclone ? path.resolve(values.rclone) : 'rclone';
if (values.rclone) process.env.PATH = `${path.dirname(RCLONE)}${path.delimiter}${process.env.PATH ?? ''}`;
const RCLONE_VERSION = /^rclone (\S+)/.exec(execFileSync(RCLONE, ['version'], { env: { ...process.env, RCLONE_CONFIG: '/dev/null' } }).toString())?.[1] ?? 'unknown';
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const [bin, argv] = GNU_TIME ? [GNU_TIME, ['-f', '@@peak %M', cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(bin, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const peak = /@@peak (\d+)/.exec(stderr);
      resolve({ seconds, code, stderr: stderr.slice(-2000), ...(peak ? { peakMiB: Number(peak[1]) / 1024 } : {}) });
    });
  });
}

function must(result: Timed, what: string): Timed {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}: ${result.stderr}`);
  return result;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

interface RemoteSetup {
  name: string;
  /** Its --remotes word: names its config directories. */
  kind: string;
  /** `poof cconfig` arguments for this remote. */
  cconfig: string[];
  cconfigEnv?: Record<string, string>;
  /** A tree of its own instead of the shared one (OpenSSH: smaller), and no history rows. */
  ownTree?: { smallFiles: number; largeFiles: number; largeMiB: number };
  stop(): Promise<void>;
}

async function setupRemote(kind: string, work: string): Promise<RemoteSetup> {
  if (kind === 'local') return { name: 'local', kind, cconfig: ['--provider', 'local', '--root', path.join(work, 'cloud')], stop: async () => {} };
  let server: RunningServer;
  if (kind === 'openssh') {
    const ssh = await startSshd(path.join(work, 'ssh-root'));
    return {
      name: `sftp (OpenSSH, user ${ssh.user})`,
      kind,
      cconfig: ['--provider', 'sftp', '--host', '127.0.0.1', '--port', String(ssh.port), '--user', ssh.user, '--key-file', ssh.clientKey, '--known-hosts', ssh.knownHosts],
      ownTree: { smallFiles: Number(values['openssh-files']), largeFiles: 0, largeMiB: 1 },
      stop: () => ssh.stop(),
    };
  }
  if (kind === 'sftp') {
    server = await startRcloneSftp(path.join(work, 'sftp-root'));
    return {
      name: 'sftp (rclone serve sftp)',
      kind,
      cconfig: ['--provider', 'sftp', '--host', '127.0.0.1', '--port', String(server.port), '--user', 'u'],
      cconfigEnv: { POOF_SECRET: 'p' },
      stop: () => server.stop(),
    };
  }
  server = await startS3(path.join(work, 's3data'));
  return {
    name: 's3 (s3rver)',
    kind,
    cconfig: ['--provider', 's3', '--endpoint', `http://127.0.0.1:${server.port}`, '--access-key-id', 'S3RVER'],
    cconfigEnv: { POOF_SECRET: 'S3RVER' },
    stop: () => server.stop(),
  };
}

interface Row {
  remote: string;
  variant: string;
  first: number[];
  noChange: number[];
  peakMiB: number[];
}

async function main(): Promise<void> {
  if (values['watch-idle']) {
    const rcloneBin = values.rclone ? RCLONE : execFileSync('sh', ['-c', 'command -v rclone']).toString().trim();
    return benchWatchIdle({ files: Number(values['watch-files']), idleMinutes: Number(values['idle-minutes']), saves: Number(values.saves), rclone: rcloneBin, dir: values.dir });
  }
  const spec = { smallFiles: Number(values.files), largeFiles: Number(values.large), largeMiB: Number(values['large-mib']) };
  const repeat = Math.max(1, Number(values.repeat));
  const base = values.dir ?? (existsSync('/dev/shm') && statfsSync('/dev/shm').bavail * statfsSync('/dev/shm').bsize > 4 * 2 ** 30 ? '/dev/shm' : os.tmpdir());
  const work = await mkdtemp(path.join(base, 'poof-bench-'));
  process.stdout.write(`work dir: ${work}\n`);
  const src = path.join(work, 'src');
  const tree = await generateTree(src, spec);
  process.stdout.write(`tree: ${tree.files} files, ${(tree.bytes / 2 ** 20).toFixed(0)} MiB (${spec.smallFiles} of 1-16 KiB, ${spec.largeFiles} of ${spec.largeMiB} MiB); repeat ${repeat}\n`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(RCLONE_|POOF_|XDG_)/.test(k) && k !== 'AWS_CA_BUNDLE') env[k] = v;
  if (values.rclone) env.POOF_RCLONE = RCLONE;
  const rows: Row[] = [];
  const historyRows: Row[] = [];
  try {
    for (const kind of String(values.remotes).split(',')) {
      const remote = await setupRemote(kind, work);
      try {
        if (values['append-only']) {
          if (remote.ownTree) continue;
          const measured = await benchAppendOnly(remote, src, work, env, repeat);
          printAppendOnlyTable(measured);
          historyRows.push(...measured);
          continue;
        }
        if (remote.ownTree) {
          if (values['history-only']) continue;
          const own = path.join(work, `src-${kind}`);
          const made = await generateTree(own, remote.ownTree);
          process.stdout.write(`${remote.name}: its own tree, ${made.files} files of 1-16 KiB\n`);
          const measured = await benchRemote(remote, own, work, env, repeat);
          printTable(measured);
          rows.push(...measured);
          continue;
        }
        if (!values['history-only']) {
          // Each remote's table as soon as it is measured, and all of them at the end.
          const measured = await benchRemote(remote, src, work, env, repeat);
          printTable(measured);
          rows.push(...measured);
        }
        if (values['no-history-rows']) continue;
        const measured = await benchHistory(remote, src, work, env, repeat);
        // Each remote's table as soon as it is measured: a later remote's failure loses nothing.
        printHistoryTable(measured);
        historyRows.push(...measured);
      } finally {
        await remote.stop();
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  if (rows.length > 0) printTable(rows);
  if (values['append-only']) printAppendOnlyTable(historyRows);
  else printHistoryTable(historyRows);
}

/**
 * Append-only against a mirror with history (the default), each into its own bucket,
 * interleaved: the first backup, then per round a run that changes 1% of the small files (new
 * content) and a no-change run. Checked: each change run of the append-only backup stored exactly
 * one new object per changed file and one record, and a no-change run stored nothing.
 */
async function benchAppendOnly(remote: RemoteSetup, src: string, work: string, baseEnv: NodeJS.ProcessEnv, repeat: number): Promise<Row[]> {
  const { readFile, writeFile, readdir } = await import('node:fs/promises');
  const { promisify } = await import('node:util');
  const { execFile } = await import('node:child_process');
  const variants = [
    { variant: 'poof backup, mirror', mode: 'mirror' },
    { variant: 'poof backup, append-only', mode: 'append-only' },
  ];
  const runners: Array<() => Promise<Timed>> = [];
  const rows: Row[] = variants.map((v) => ({ remote: remote.name, variant: v.variant, first: [], noChange: [], peakMiB: [] }));
  const firsts: number[] = [];
  let vaultConf = '';
  for (const v of variants) {
    const confdir = path.join(work, `conf-ao-${v.mode}-${remote.kind}`);
    const env = { ...baseEnv, POOF_CONFIG_DIR: confdir, HOME: work, XDG_STATE_HOME: path.join(confdir, 'state') };
    const poof = () => timed(process.execPath, [cliPath, 'backup', '--quiet'], env);
    must(await timed(process.execPath, [cliPath, 'config', '--map', `${src}=Bench`, '--bucket', `bench-ao-${v.mode}`], env), 'poof config');
    must(await timed(process.execPath, [cliPath, 'cconfig', ...remote.cconfig], { ...env, ...remote.cconfigEnv }), 'poof cconfig');
    const confFile = path.join(confdir, 'poof.conf');
    await writeFile(confFile, JSON.stringify({ ...(JSON.parse(await readFile(confFile, 'utf8')) as object), mode: v.mode }));
    firsts.push(must(await poof(), `${v.variant}: first backup`).seconds);
    runners.push(poof);
    if (v.mode === 'append-only') vaultConf = path.join(confdir, 'rclone-poof.conf');
  }
  process.stdout.write(`${remote.name}: first backup: mirror ${firsts[0]!.toFixed(2)} s, append-only ${firsts[1]!.toFixed(2)} s\n`);
  const count = async () => {
    const listing = (await promisify(execFile)(RCLONE, ['lsf', '-R', '--files-only', '--fast-list', 'poof-backup:bench-ao-append-only/.poof-vault', '--config', vaultConf], { env: baseEnv, maxBuffer: 2 ** 28 })).stdout.split('\n');
    return { objects: listing.filter((l) => l.startsWith('data/')).length, records: listing.filter((l) => l.startsWith('runs/')).length };
  };
  const small = (await readdir(src, { recursive: true })).map(String).filter((f) => /\.txt$|\.dat$|\.bin$/.test(f)).sort();
  for (let r = 0; r < repeat; r++) {
    const changed = small.filter((_, i) => i % 100 === r % 100);
    for (const file of changed) await writeFile(path.join(src, file), Buffer.alloc(1024 + (r % 7) * 100, `${remote.name} append-only round ${r} ${file} `));
    const before = await count();
    const order = [0, 1].map((i) => (i + r) % 2);
    for (const i of order) rows[i]!.first.push(must(await runners[i]!(), `${rows[i]!.variant}: change run`).seconds);
    const changedRun = await count();
    for (const i of order) rows[i]!.noChange.push(must(await runners[i]!(), `${rows[i]!.variant}: no-change run`).seconds);
    const after = await count();
    const ok = changedRun.objects - before.objects === changed.length && changedRun.records - before.records === 1 && after.objects === changedRun.objects && after.records === changedRun.records;
    if (!ok) {
      process.stdout.write(`CHECK FAILED: ${remote.name}: append-only round ${r + 1} stored ${changedRun.objects - before.objects} objects and ${changedRun.records - before.records} records for ${changed.length} changed files, then ${after.objects - changedRun.objects} and ${after.records - changedRun.records} with nothing changed\n`);
      process.exitCode = 1;
      rows[1]!.variant += ' (CHECK FAILED)';
    }
    process.stdout.write(`${remote.name}: append-only round ${r + 1}/${repeat} done (${changed.length} files changed, ${changedRun.objects - before.objects} objects and ${changedRun.records - before.records} record stored)\n`);
  }
  return rows;
}

function printAppendOnlyTable(rows: Row[]): void {
  if (rows.length === 0) return;
  const fmt = (x: number) => x.toFixed(2);
  process.stdout.write('\n| remote | command | 1% changed s (median) | no-change s (median) |\n|---|---|---|---|\n');
  for (const row of rows) process.stdout.write(`| ${row.remote} | ${row.variant} | ${fmt(median(row.first))} | ${fmt(median(row.noChange))} |\n`);
  process.stdout.write('\n| remote | append-only / mirror, 1% changed | append-only / mirror, no-change |\n|---|---|---|\n');
  for (let i = 0; i < rows.length; i += 2) {
    const [mirror, vault] = [rows[i]!, rows[i + 1]!];
    process.stdout.write(`| ${mirror.remote} | ${(median(vault.first) / median(mirror.first)).toFixed(2)} | ${(median(vault.noChange) / median(mirror.noChange)).toFixed(2)} |\n`);
  }
  process.stdout.write(`\nrclone ${RCLONE_VERSION} (${RCLONE}); node ${process.version}; ${os.cpus().length} cpus; ${new Date().toISOString()}\n`);
}

/**
 * History's cost: after a first backup, a run that changes 1% of the files (each file rewritten
 * with new content, so every run sends them and keeps their old versions) and a no-change run,
 * with history on (the default) and off ("history": false), each into its own bucket, interleaved;
 * beside them raw rclone with poof's flags, with and without --backup-dir, so what rclone's own
 * moves into the history folder cost is told apart from what poof adds.
 */
async function benchHistory(remote: RemoteSetup, src: string, work: string, baseEnv: NodeJS.ProcessEnv, repeat: number): Promise<Row[]> {
  const variants = [
    { variant: 'poof backup, history on', history: true },
    { variant: 'poof backup, history off', history: false },
  ];
  const { readFile, writeFile, readdir } = await import('node:fs/promises');
  const runners: Array<() => Promise<Timed>> = [];
  let offEnv: NodeJS.ProcessEnv = {};
  let rcloneConf = '';
  for (const v of variants) {
    const confdir = path.join(work, `conf-hist-${v.history ? 'on' : 'off'}-${remote.kind}`);
    const env = { ...baseEnv, POOF_CONFIG_DIR: confdir, HOME: work, XDG_STATE_HOME: path.join(confdir, 'state') };
    const poof = (args: string[], extra: Record<string, string> = {}) => timed(process.execPath, [cliPath, ...args], { ...env, ...extra });
    must(await poof(['config', '--map', `${src}=Bench`, '--bucket', `bench-hist-${v.history ? 'on' : 'off'}`]), 'poof config');
    must(await poof(['cconfig', ...remote.cconfig], remote.cconfigEnv), 'poof cconfig');
    const confFile = path.join(confdir, 'poof.conf');
    await writeFile(confFile, JSON.stringify({ ...(JSON.parse(await readFile(confFile, 'utf8')) as object), history: v.history, keep: { last: 1000 } }));
    must(await poof(['backup', '--quiet']), 'first backup');
    runners.push(() => poof(['backup', '--quiet']));
    if (!v.history) [offEnv, rcloneConf] = [env, path.join(confdir, 'rclone-poof.conf')];
  }
  // Raw rclone: poof's exact command line (from its dry run), into buckets of its own.
  const args = (await poofDryRunArgs(offEnv)).filter((a, i, all) => a !== '--retries' && all[i - 1] !== '--retries');
  let pass = 0;
  const raw = (bucket: string, history: boolean) => () => {
    const dest = `poof-backup:${bucket}`;
    const extra = history ? ['--backup-dir', `${dest}/.poof-history/run-${String(++pass).padStart(4, '0')}/Bench`, '--retries', '1'] : [];
    return timed(RCLONE, [...args.map((a, i) => (i === 2 ? `${dest}/Bench` : a)), ...extra], baseEnv);
  };
  runners.push(raw('bench-raw-hist-on', true), raw('bench-raw-hist-off', false));
  for (const run of runners.slice(2)) must(await run(), 'first raw rclone sync');
  const names = [...variants.map((v) => v.variant), 'raw rclone, --backup-dir', 'raw rclone, no --backup-dir'];
  const rows: Row[] = names.map((variant) => ({ remote: remote.name, variant, first: [], noChange: [], peakMiB: [] }));
  const small = (await readdir(path.join(src), { recursive: true })).filter((f) => /\.txt$|\.dat$|\.bin$/.test(String(f))).map(String).sort();
  for (let r = 0; r < repeat; r++) {
    // 1% of the files, different ones each round, with new content of the same size.
    const changed = small.filter((_, i) => i % 100 === r % 100);
    // Content no earlier round or remote wrote: every changed file really changes.
    const fill = `${remote.name} round ${r} `;
    for (const file of changed) await writeFile(path.join(src, file), Buffer.alloc(1024 + (r % 7) * 100, fill));
    const order = [0, 1, 2, 3].map((i) => (i + r) % 4);
    for (const i of order) rows[i]!.first.push(must(await runners[i]!(), `${names[i]}: change run`).seconds);
    for (const i of order) rows[i]!.noChange.push(must(await runners[i]!(), `${names[i]}: no-change run`).seconds);
    process.stdout.write(`${remote.name}: history round ${r + 1}/${repeat} done (${changed.length} files changed)\n`);
  }
  // A run that changed files must have kept their old versions: the benchmark checks it did the work.
  // Asynchronously: the S3 server runs in this process.
  const { promisify } = await import('node:util');
  const { execFile } = await import('node:child_process');
  // --fast-list: s3rver's per-directory listings miss deep files.
  const listing = (await promisify(execFile)(RCLONE, ['lsf', '-R', '--files-only', '--fast-list', 'poof-backup:bench-hist-on/.poof-history', '--config', rcloneConf.replace('-off-', '-on-')], { env: baseEnv, maxBuffer: 2 ** 28 })).stdout;
  const versions = listing.split('\n').filter((l) => /\/Bench\/./.test(l)).length;
  const manifests = listing.split('\n').filter((l) => l.endsWith('/Bench.run.json.gz')).length;
  const expected = repeat * Math.floor(small.length / 100);
  if (versions < expected || manifests < repeat + 1) {
    const dirs = (await promisify(execFile)(RCLONE, ['lsf', '-R', '--max-depth', '3', 'poof-backup:bench-hist-on/.poof-history', '--config', rcloneConf.replace('-off-', '-on-')], { env: baseEnv, maxBuffer: 2 ** 28 })).stdout;
    process.stdout.write(`${dirs.split('\n').slice(0, 40).join('\n')}\n`);
    process.stdout.write(`CHECK FAILED: ${remote.name}: history on kept ${versions} versions and ${manifests} manifests; ${expected} versions and ${repeat + 1} manifests expected\n`);
    process.exitCode = 1;
    for (const row of rows.slice(0, 1)) row.variant += ' (CHECK FAILED)';
  }
  return rows;
}

/** The rclone command line poof runs for the one mapping, from its dry run. */
async function poofDryRunArgs(env: NodeJS.ProcessEnv): Promise<string[]> {
  const dry = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [cliPath, 'backup', '--dry-run'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
  });
  const line = /^\[dry run\] Bench: rclone (.*)$/m.exec(dry)?.[1];
  if (!line) throw new Error(`no dry-run line from poof: ${dry}`);
  return splitArgs(line).filter((a) => a !== '--dry-run');
}

function printHistoryTable(rows: Row[]): void {
  if (rows.length === 0) return;
  const fmt = (x: number) => x.toFixed(2);
  process.stdout.write('\n| remote | command | 1% changed s (median) | no-change s (median) |\n|---|---|---|---|\n');
  for (const row of rows) process.stdout.write(`| ${row.remote} | ${row.variant} | ${fmt(median(row.first))} | ${fmt(median(row.noChange))} |\n`);
  process.stdout.write('\n| remote | poof history on / off, 1% changed | raw rclone with / without --backup-dir, 1% changed | poof\'s own cost of history, 1% changed, s | poof history on / off, no-change |\n|---|---|---|---|---|\n');
  for (let i = 0; i < rows.length; i += 4) {
    const [on, off, rawOn, rawOff] = [rows[i]!, rows[i + 1]!, rows[i + 2]!, rows[i + 3]!];
    const own = median(on.first) - median(off.first) - (median(rawOn.first) - median(rawOff.first));
    process.stdout.write(`| ${on.remote} | ${(median(on.first) / median(off.first)).toFixed(2)} | ${(median(rawOn.first) / median(rawOff.first)).toFixed(2)} | ${own.toFixed(2)} | ${(median(on.noChange) / median(off.noChange)).toFixed(2)} |\n`);
  }
  process.stdout.write(`\nrclone ${RCLONE_VERSION} (${RCLONE}); node ${process.version}; ${os.cpus().length} cpus; ${new Date().toISOString()}\n`);
}

async function benchRemote(remote: RemoteSetup, src: string, work: string, baseEnv: NodeJS.ProcessEnv, repeat: number): Promise<Row[]> {
  const confdir = path.join(work, `conf-${remote.kind}`);
  const env = { ...baseEnv, POOF_CONFIG_DIR: confdir, HOME: work };
  const poof = (args: string[], extra: Record<string, string> = {}) => timed(process.execPath, [cliPath, ...args], { ...env, ...extra });
  must(await poof(['config', '--map', `${src}=Bench`, '--bucket', 'bench-0']), 'poof config');
  must(await poof(['cconfig', ...remote.cconfig], remote.cconfigEnv), 'poof cconfig');
  const rcloneConf = path.join(confdir, 'rclone-poof.conf');

  // The exact rclone command poof runs, from its own dry run.
  const poofArgs = await poofDryRunArgs(env);
  const destOf = (bucket: string) => `poof-backup:${bucket}/Bench`;
  const rawArgs = (bucket: string) => poofArgs.map((a, i) => (i === 2 ? destOf(bucket) : a));
  const originalArgs = (bucket: string) => ['sync', '-L', src, destOf(bucket), '--config', rcloneConf];

  const rows: Row[] = ['poof backup', 'raw rclone, same flags', 'original poof (rclone sync -L)'].map((variant) => ({ remote: remote.name, variant, first: [], noChange: [], peakMiB: [] }));
  for (let r = 0; r < repeat; r++) {
    const buckets = [`bench-poof-${r}`, `bench-raw-${r}`, `bench-orig-${r}`];
    const runs = [
      async () => {
        must(await poof(['config', '--bucket', buckets[0]!, '--force']), 'poof config --bucket');
        return must(await poof(['backup', '--quiet']), 'poof backup');
      },
      async () => must(await timed(RCLONE, rawArgs(buckets[1]!), env), 'raw rclone'),
      async () => must(await timed(RCLONE, originalArgs(buckets[2]!), env), 'original command line'),
    ];
    const order = [0, 1, 2].map((i) => (i + r) % 3);
    for (const i of order) {
      const result = await runs[i]!();
      rows[i]!.first.push(result.seconds);
      if (result.peakMiB !== undefined) rows[i]!.peakMiB.push(result.peakMiB);
    }
    for (const i of order) {
      const result = i === 0 ? must(await poof(['backup', '--quiet']), 'poof backup') : await runs[i]!();
      rows[i]!.noChange.push(result.seconds);
    }
    // Free the space (the work dir may be in memory); not timed.
    for (const bucket of buckets) await timed(RCLONE, ['purge', `poof-backup:${bucket}`, '--config', rcloneConf], env);
    process.stdout.write(`${remote.name}: round ${r + 1}/${repeat} done\n`);
  }
  return rows;
}

/** Split poof's printed rclone command line (arguments without spaces except paths we generated). */
function splitArgs(line: string): string[] {
  return line.split(' ');
}

function printTable(rows: Row[]): void {
  const fmt = (x: number) => x.toFixed(2);
  process.stdout.write('\n| remote | command | first run s (median) | no-change s (median) | peak RSS MiB |\n|---|---|---|---|---|\n');
  for (const row of rows) {
    const peak = row.peakMiB.length ? Math.max(...row.peakMiB).toFixed(0) : '-';
    process.stdout.write(`| ${row.remote} | ${row.variant} | ${fmt(median(row.first))} | ${fmt(median(row.noChange))} | ${peak} |\n`);
  }
  process.stdout.write('\n| remote | poof / raw rclone, first | poof / raw rclone, no-change | original / poof, first | original / poof, no-change |\n|---|---|---|---|---|\n');
  for (let i = 0; i < rows.length; i += 3) {
    const [p, raw, orig] = [rows[i]!, rows[i + 1]!, rows[i + 2]!];
    const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);
    process.stdout.write(`| ${p.remote} | ${ratio(p.first, raw.first)} | ${ratio(p.noChange, raw.noChange)} | ${ratio(orig.first, p.first)} | ${ratio(orig.noChange, p.noChange)} |\n`);
  }
  process.stdout.write(`\nrclone ${RCLONE_VERSION} (${RCLONE}); node ${process.version}; ${os.cpus().length} cpus; ${new Date().toISOString()}\n`);
}

await main();
