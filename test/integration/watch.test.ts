import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, readFile, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists, killStarted, pgrep, startPoof, textOf, waitFor, type Background } from '../helpers/background.js';
import { cconfigOpenSsh, cconfigS3, makeSandbox, mapLocalDirs, runPoof, setConf, type Sandbox } from '../helpers/sandbox.js';
import { startRcloneSftp, startRcloneWebdav, type RunningServer, type SshServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

type Kind = 'a local-directory remote' | 'OpenSSH';
const KINDS: Kind[] = ['a local-directory remote', 'OpenSSH'];

/** Quick timing for tests: 1 s of quiet, 5 s at most, a full backup 3 s after a deletion. */
const QUICK = { quietSeconds: 1, maxDelaySeconds: 5, calmSeconds: 3, fullSyncMinutes: 60 };

interface Watched {
  sb: Sandbox;
  dirs: Record<string, string>;
  logFile: string;
  lockFile: string;
  /** The mirror of a mapping on the storage's own disk. */
  mirror: (name: string) => Promise<string>;
  stop: () => Promise<void>;
}

async function watchedSandbox(kind: Kind, trees: Record<string, Record<string, string | Buffer>>): Promise<Watched> {
  const sb = await makeSandbox();
  const made = await mapLocalDirs(sb, trees);
  let sshd: SshServer | undefined;
  if (kind === 'OpenSSH') sshd = await cconfigOpenSsh(sb);
  await setConf(sb, (conf) => Object.assign(conf, { watch: QUICK, excludes: ['*.tmp'] }));
  const bucket = async () => (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
  return {
    sb,
    dirs: made.dirs,
    logFile: made.paths.logFile!,
    lockFile: made.paths.lockFile!,
    mirror: async (name) => path.join(sshd ? sshd.root : made.cloud, await bucket(), name),
    stop: async () => {
      // A watch a failed assertion left running would write while the sandbox is removed, hiding that failure.
      await killStarted();
      await sshd?.stop();
      await sb.cleanup();
    },
  };
}

/** Start `poof watch` and wait for its first full backup (the catch-up at start). */
async function startWatch(sb: Sandbox, args: string[] = []): Promise<Background> {
  const run = startPoof(['watch', ...args], sb.env);
  await waitFor(async () => /full backup done/.test(run.stdout()) || run.child.exitCode !== null, 60_000, 'the catch-up backup');
  assert.match(run.stdout(), /watching \d+ director(y|ies)/, run.stderr());
  return run;
}

/** Stop a watch as Ctrl-C does (SIGINT to its process group) and check it said so. */
async function stopWatch(run: Background): Promise<void> {
  process.kill(-run.pid, 'SIGINT');
  const ended = await run.exit;
  assert.equal(ended.code, 130, run.stderr());
}

/** Wait until `file` in the mirror holds exactly `content`. */
async function arrives(file: string, content: string | Buffer, ms = 30_000): Promise<void> {
  await waitFor(async () => (await readFile(file).catch(() => undefined))?.equals(Buffer.from(content)) === true, ms, `${path.basename(file)} on the remote`);
}

async function without(tree: Map<string, Buffer>): Promise<Record<string, string>> {
  return Object.fromEntries([...tree].map(([name, data]) => [name, data.toString()]).sort(([a], [b]) => ((a ?? '') < (b ?? '') ? -1 : 1)));
}

for (const kind of KINDS) describe(`poof watch on ${kind}: each change arrives byte-identical`, () => {
  let w: Watched;
  let docs: string;
  let mirror: string;
  let run: Background;
  before(async () => {
    w = await watchedSandbox(kind, { Docs: { 'a.txt': 'a, first\n', 'del.txt': 'to delete\n', 'old.txt': 'to rename\n', 'keep/k.txt': 'kept\n' } });
    docs = w.dirs.Docs!;
    mirror = await w.mirror('Docs');
    run = await startWatch(w.sb);
  });
  after(async () => {
    if (run.child.exitCode === null) process.kill(-run.pid, 'SIGKILL');
    await w.stop();
  });

  it('a save, an editor\'s atomic save (temp file, then rename), a burst of 1,000 files and a file growing for seconds', async () => {
    assert.deepEqual(await without(await readTree(mirror)), await without(await readTree(docs)), 'the catch-up backup');
    // Excluded files and a restore's staging folder are never sent, also when they change.
    await writeFile(path.join(docs, 'scratch.tmp'), 'excluded\n');
    await mkdir(path.join(docs, '.poof-restore-0123abcd'));
    await writeFile(path.join(docs, '.poof-restore-0123abcd', 'staged.txt'), 'staged\n');
    await writeFile(path.join(docs, 'new.txt'), 'saved\n');
    await arrives(path.join(mirror, 'new.txt'), 'saved\n');
    assert.equal(await exists(path.join(mirror, 'scratch.tmp')), false);
    assert.equal(await exists(path.join(mirror, '.poof-restore-0123abcd')), false);
    await rm(path.join(docs, '.poof-restore-0123abcd'), { recursive: true });
    await rm(path.join(docs, 'scratch.tmp'));
    await writeFile(path.join(docs, '.a.txt.swp'), 'a, saved atomically\n');
    await rename(path.join(docs, '.a.txt.swp'), path.join(docs, 'a.txt'));
    await arrives(path.join(mirror, 'a.txt'), 'a, saved atomically\n');
    await mkdir(path.join(docs, 'burst'));
    for (let i = 0; i < 1000; i++) await writeFile(path.join(docs, 'burst', `f${i}.txt`), `file ${i}\n`);
    await waitFor(async () => (await readdir(path.join(mirror, 'burst')).catch(() => [])).length === 1000, 60_000, '1,000 files on the remote');
    for (let i = 0; i < 1000; i += 97) assert.equal(await readFile(path.join(mirror, 'burst', `f${i}.txt`), 'utf8'), `file ${i}\n`);
    // Written for 4 s in 16 pieces: copied once it stops, whole.
    const growing = path.join(docs, 'growing.bin');
    for (let i = 0; i < 16; i++) {
      await appendFile(growing, Buffer.alloc(64 * 1024, i));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await arrives(path.join(mirror, 'growing.bin'), await readFile(growing));
    assert.equal(await exists(path.join(mirror, '.a.txt.swp')), false, 'the temp file never reached the remote');
  });

  it('a deletion and a rename follow with a full backup once calm; what they replaced stays in the history, restorable', async () => {
    const fullBackups = () => (run.stdout().match(/full backup done/g) ?? []).length;
    // Calm first: the first test's deletions bring a full backup of their own, done once the count stays.
    let seen = fullBackups();
    let since = Date.now();
    await waitFor(
      async () => {
        if (fullBackups() !== seen) [seen, since] = [fullBackups(), Date.now()];
        return Date.now() - since > (QUICK.calmSeconds + 3) * 1000;
      },
      40_000,
      'a calm moment',
    );
    const before = fullBackups();
    await rm(path.join(docs, 'del.txt'));
    await rename(path.join(docs, 'old.txt'), path.join(docs, 'renamed.txt'));
    await waitFor(async () => fullBackups() > before, 60_000, 'the full backup after the deletion and the rename');
    assert.equal(await exists(path.join(mirror, 'del.txt')), false);
    assert.equal(await exists(path.join(mirror, 'old.txt')), false);
    assert.deepEqual(await without(await readTree(mirror)), await without(await readTree(docs)));
    // The first run (the catch-up) comes back as it was: a.txt before its save, del.txt and old.txt.
    const history = JSON.parse((await runPoof(['history', '--json'], { env: w.sb.env })).stdout) as { mappings: Array<{ runs: Array<{ id: string; complete: boolean; keptFiles: number }> }> };
    const runs = history.mappings[0]!.runs.filter((r) => r.complete);
    assert.ok(runs.length >= 2, JSON.stringify(runs));
    // Every kept version is counted with a listed run: the batches' with the full backup ending their window.
    const stored = [...(await readTree(path.join(path.dirname(mirror), '.poof-history')))].filter(([name]) => !name.endsWith('.run.json.gz'));
    assert.ok(stored.length >= 3, stored.map(([name]) => name).join(', '));
    assert.equal(history.mappings[0]!.runs.reduce((n, r) => n + r.keptFiles, 0), stored.length);
    const into = path.join(w.sb.dir, 'restored');
    const restored = await runPoof(['restore', '--at', runs[0]!.id, '--to', into, '--yes'], { env: w.sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await without(await readTree(path.join(into, 'Docs'))), { 'a.txt': 'a, first\n', 'del.txt': 'to delete\n', 'keep/k.txt': 'kept\n', 'old.txt': 'to rename\n' });
    const versions = await runPoof(['versions', path.join(docs, 'a.txt')], { env: w.sb.env });
    assert.match(versions.stdout, /a\.txt: 2 versions/);
  });

  it('a backup run meanwhile shares the lock; a second watch is refused; Ctrl-C ends it with 130 and leaves no rclone behind', async () => {
    const backup = await runPoof(['backup'], { env: w.sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const second = await runPoof(['watch'], { env: w.sb.env });
    assert.equal(second.code, 2);
    assert.match(second.stderr, /poof watch is already running: pid \d+/);
    await writeFile(path.join(docs, 'after-backup.txt'), 'still watched\n');
    await arrives(path.join(mirror, 'after-backup.txt'), 'still watched\n');
    await stopWatch(run);
    assert.match(run.stderr(), /watch interrupted by SIGINT/);
    assert.equal(await pgrep(`rclone.*${w.sb.dir}`), '');
    const status = await runPoof(['status', '--json', '--last', '1'], { env: w.sb.env });
    assert.match(status.stdout, /"command": "watch"/);
  });
});

for (const kind of KINDS) describe(`poof watch on ${kind}: one save in a 10,000-file tree is one copy of that one file`, () => {
  let w: Watched;
  before(async () => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 10_000; i++) tree[`d${Math.floor(i / 100)}/f${i}.txt`] = `${i}\n`;
    w = await watchedSandbox(kind, { Big: tree });
  });
  after(() => w.stop());

  it('no full-tree listing and no deletion: one rclone copy of exactly that file (a filter naming it alone)', async () => {
    // watch's own full backup (the catch-up) holds the lock as watch's: a backup run meanwhile waits for it.
    const started = startPoof(['watch'], w.sb.env);
    // A first backup of 10,000 files takes seconds: long enough to be seen holding the lock.
    await waitFor(async () => /"command":"watch"/.test(await readFile(w.lockFile, 'utf8').catch(() => '')), 60_000, 'the catch-up under the lock');
    const meanwhile = await runPoof(['backup'], { env: w.sb.env });
    assert.equal(meanwhile.code, 0, meanwhile.stderr);
    assert.match(meanwhile.stderr, /waiting for the current batch of poof watch \(pid \d+\) to finish/);
    const run = started;
    await waitFor(async () => /full backup done/.test(run.stdout()), 60_000, 'the catch-up backup');
    const before = await readFile(w.logFile, 'utf8');
    await writeFile(path.join(w.dirs.Big!, 'd42', 'f4242.txt'), 'changed\n');
    await arrives(path.join(await w.mirror('Big'), 'd42', 'f4242.txt'), 'changed\n');
    await waitFor(async () => /Big: copied 1 file/.test(run.stdout()), 10_000, 'the copy reported');
    await stopWatch(run);
    const added = (await readFile(w.logFile, 'utf8')).slice(before.length).split('\n');
    const rclones = added.filter((line) => /^# \S+ Big: rclone /.test(line));
    assert.equal(rclones.length, 1, rclones.join('\n'));
    assert.match(rclones[0]!, /: rclone copy \S+ \S+ .*--filter-from \S+ --no-traverse/);
    assert.doesNotMatch(rclones[0]!, /rclone sync|--delete/);
    assert.equal(added.filter((line) => /"msg":"Copied/.test(line)).length, 1);
    assert.match(run.stdout(), /Big: copied 1 file\n/);
  });
});

for (const kind of KINDS) describe(`poof watch on ${kind}: SIGINT and SIGTERM in the middle of a batch`, () => {
  let w: Watched;
  before(async () => {
    w = await watchedSandbox(kind, { Docs: { 'a.txt': 'a\n' } });
    // Slow enough to be stopped in the middle of the batch.
    await setConf(w.sb, (conf) => void (conf.rclone = { bwlimit: '2M' }));
  });
  after(() => w.stop());

  for (const [signal, code, toGroup] of [['SIGINT', 130, true], ['SIGTERM', 143, false]] as const) {
    it(`${signal} to ${toGroup ? 'the process group' : 'poof alone'}: exit ${code}, rclone stopped, the lock free; the next watch catches up byte-identical`, async () => {
      const docs = w.dirs.Docs!;
      const run = await startWatch(w.sb);
      // This batch's copy, not an earlier test's: the log holds those too.
      const copies = async () => ((await readFile(w.logFile, 'utf8').catch(() => '')).match(/ Docs: rclone copy /g) ?? []).length;
      const before = await copies();
      await mkdir(path.join(docs, signal));
      for (let i = 0; i < 8; i++) await writeFile(path.join(docs, signal, `big${i}.bin`), Buffer.alloc(1024 * 1024, i + 1));
      await waitFor(async () => (await copies()) > before, 30_000, 'the batch\'s rclone copy');
      // rclone needs a moment to start moving bytes and name them.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      process.kill(toGroup ? -run.pid : run.pid, signal);
      const ended = await run.exit;
      assert.equal(ended.code, code, run.stderr());
      assert.match(run.stderr(), new RegExp(`watch interrupted by ${signal}`));
      // The batch's files in flight are on record: a download says they may be cut short.
      const download = await runPoof(['download', '--dry-run'], { env: w.sb.env });
      assert.match(download.stderr, /Docs: warning: the last backup \(started \S+\) did not finish; /);
      await waitFor(async () => (await pgrep(`rclone.*${w.sb.dir}`)) === '', 15_000, 'rclone gone');
      assert.equal(await exists(w.lockFile), false);
      const next = await startWatch(w.sb);
      await stopWatch(next);
      assert.deepEqual(await without(await readTree(await w.mirror('Docs'))), await without(await readTree(docs)));
    });
  }
});

describe('poof watch over SFTP: a server that goes away and comes back is caught up without a restart', () => {
  let sb: Sandbox;
  let server: RunningServer;
  let root: string;
  let port: number;
  before(async () => {
    sb = await makeSandbox();
    await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n' } });
    root = path.join(sb.dir, 'sftp-root');
    server = await startRcloneSftp(root);
    port = server.port;
    const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(port), '--user', 'u', '--force'], { env: { ...sb.env, POOF_SECRET: 'p' } });
    assert.equal(made.code, 0, made.stderr);
    await setConf(sb, (conf) => Object.assign(conf, { watch: QUICK, rclone: { stallSeconds: 5 } }));
  });
  after(async () => {
    await server.stop();
    await sb.cleanup();
  });

  it('the copy fails while it is away, is tried again, and the file arrives once it is back', async () => {
    const run = await startWatch(sb);
    await server.stop();
    const docs = path.join(sb.home, 'Docs');
    await writeFile(path.join(docs, 'while-away.txt'), 'written while the server was away\n');
    await waitFor(async () => /Docs: copy FAILED: .*trying again in \d+ s/.test(run.stderr()), 60_000, 'the failed copy');
    server = await startRcloneSftp(root, port);
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    await arrives(path.join(root, bucket, 'Docs', 'while-away.txt'), 'written while the server was away\n', 60_000);
    assert.equal(run.child.exitCode, null, 'still watching');
    await stopWatch(run);
  });
});

describe('poof watch on an uploaded mapping and on an append-only backup: only ever adds', () => {
  it('an uploaded mapping (its files wiped here): new files arrive, and nothing on the remote is ever deleted', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'old1.txt': 'uploaded 1\n', 'old2.txt': 'uploaded 2\n' } });
    try {
      const upload = await runPoof(['upload', '--yes'], { env: w.sb.env });
      assert.equal(upload.code, 0, upload.stderr);
      const mirror = await w.mirror('Docs');
      assert.deepEqual(await readdir(w.dirs.Docs!), []);
      const run = await startWatch(w.sb);
      await writeFile(path.join(w.dirs.Docs!, 'new.txt'), 'new after the upload\n');
      await arrives(path.join(mirror, 'new.txt'), 'new after the upload\n');
      // A deletion here brings a full backup, which copies only.
      await rm(path.join(w.dirs.Docs!, 'new.txt'));
      await waitFor(async () => (run.stdout().match(/full backup done/g) ?? []).length >= 2, 30_000, 'the full backup after the deletion');
      await stopWatch(run);
      assert.deepEqual(await without(await readTree(mirror)), { 'new.txt': 'new after the upload\n', 'old1.txt': 'uploaded 1\n', 'old2.txt': 'uploaded 2\n' });
    } finally {
      await w.stop();
    }
  });

  it('append-only: each batch is a vault run that only adds; a deleted file stays restorable from the run before', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n' } });
    try {
      await setConf(w.sb, (conf) => Object.assign(conf, { mode: 'append-only', keep: { within: '30d' } }));
      const bucket = path.dirname(await w.mirror('Docs'));
      const run = await startWatch(w.sb);
      const stored = async () => readTree(bucket);
      const first = await stored();
      await writeFile(path.join(w.dirs.Docs!, 'b.txt'), 'b, saved\n');
      await waitFor(async () => (run.stdout().match(/full backup done \(1 file copied\)/g) ?? []).length >= 2, 30_000, 'the batch, a vault run');
      const second = await stored();
      await rm(path.join(w.dirs.Docs!, 'a.txt'));
      await waitFor(async () => (run.stdout().match(/full backup done/g) ?? []).length >= 3, 30_000, 'the full backup after the deletion');
      await stopWatch(run);
      const third = await stored();
      for (const [before, after] of [[first, second], [second, third]] as const) {
        for (const [name, data] of before) assert.ok(after.get(name)?.equals(data), `${name} kept as it was`);
      }
      const history = JSON.parse((await runPoof(['history', '--json'], { env: w.sb.env })).stdout) as { mappings: Array<{ runs: Array<{ id: string }> }> };
      const runs = history.mappings[0]!.runs;
      assert.ok(runs.length >= 3, JSON.stringify(runs));
      const into = path.join(w.sb.dir, 'restored');
      const restored = await runPoof(['restore', '--at', runs.at(-2)!.id, '--to', into, '--yes'], { env: w.sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await without(await readTree(path.join(into, 'Docs'))), { 'a.txt': 'a\n', 'b.txt': 'b, saved\n' });
    } finally {
      await w.stop();
    }
  });
});

describe('poof watch meets what a home folder holds: pipes, links, a folder made again, nested mappings, hooks, a delete limit', () => {
  let w: Watched;
  let docs: string;
  let mirror: string;
  before(async () => {
    w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n', 'sub/s.txt': 's\n', 'inner/i.txt': 'i\n' } });
    docs = w.dirs.Docs!;
    mirror = await w.mirror('Docs');
  });
  after(() => w.stop());

  it('a pipe is left alone and the save beside it arrives; a link to a file goes as the file, one to a folder with the full backup', async () => {
    const run = await startWatch(w.sb);
    try {
      await new Promise<void>((resolve, reject) => spawn('mkfifo', [path.join(docs, 'pipe')]).on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)))));
      await symlink(path.join(docs, 'a.txt'), path.join(docs, 'link-to-file'));
      await symlink(path.join(docs, 'sub'), path.join(docs, 'link-to-folder'));
      await writeFile(path.join(docs, 'beside.txt'), 'beside the pipe\n');
      await arrives(path.join(mirror, 'beside.txt'), 'beside the pipe\n');
      await arrives(path.join(mirror, 'link-to-file'), 'a\n');
      await arrives(path.join(mirror, 'link-to-folder', 's.txt'), 's\n', 30_000);
      assert.equal(await exists(path.join(mirror, 'pipe')), false);
      // Still answering: a backup run meanwhile gets the lock.
      assert.equal((await runPoof(['backup'], { env: w.sb.env })).code, 0);
    } finally {
      await stopWatch(run);
      await rm(path.join(docs, 'pipe'));
      await rm(path.join(docs, 'link-to-file'));
      await rm(path.join(docs, 'link-to-folder'));
    }
  });

  it('a project folder moved in whole, and a folder renamed: edits deep inside them still arrive', async () => {
    const outside = path.join(w.sb.dir, 'outside', 'proj');
    await mkdir(path.join(outside, 'src', 'deep'), { recursive: true });
    await writeFile(path.join(outside, 'src', 'deep', 'main.c'), 'm1\n');
    await mkdir(path.join(docs, 'a', 's'), { recursive: true });
    await writeFile(path.join(docs, 'a', 's', 'f.txt'), 'v1\n');
    const run = await startWatch(w.sb);
    try {
      await rename(outside, path.join(docs, 'proj'));
      await arrives(path.join(mirror, 'proj', 'src', 'deep', 'main.c'), 'm1\n');
      await writeFile(path.join(docs, 'proj', 'src', 'deep', 'main.c'), 'm2, edited deep inside\n');
      await mkdir(path.join(docs, 'proj', 'src', 'deep', 'new'));
      await writeFile(path.join(docs, 'proj', 'src', 'deep', 'new', 'n.txt'), 'n\n');
      await arrives(path.join(mirror, 'proj', 'src', 'deep', 'main.c'), 'm2, edited deep inside\n');
      await arrives(path.join(mirror, 'proj', 'src', 'deep', 'new', 'n.txt'), 'n\n');
      await rename(path.join(docs, 'a'), path.join(docs, 'b'));
      await new Promise((resolve) => setTimeout(resolve, (QUICK.quietSeconds + 1) * 1000));
      await writeFile(path.join(docs, 'b', 's', 'f.txt'), 'v2, after the rename\n');
      await arrives(path.join(mirror, 'b', 's', 'f.txt'), 'v2, after the rename\n');
    } finally {
      await stopWatch(run);
    }
  });

  it('poof.conf changed while watching: watch stops (exit 1), saying why, before copying by the old settings', async () => {
    const run = await startWatch(w.sb);
    await setConf(w.sb, (conf) => void (conf.excludes = ['*.secret']));
    await writeFile(path.join(docs, 'new.secret'), 'excluded by the new settings\n');
    const ended = await run.exit;
    assert.equal(ended.code, 1, run.stderr());
    assert.match(run.stderr(), /poof\.conf or rclone-poof\.conf changed since poof watch started: stopped, so that nothing is copied by the old settings/);
    assert.equal(await exists(path.join(mirror, 'new.secret')), false);
    await rm(path.join(docs, 'new.secret'));
    await setConf(w.sb, (conf) => void delete conf.excludes);
  });

  it('a mapped folder removed and made again (a disk unmounted and mounted again) is watched again', async () => {
    const run = await startWatch(w.sb);
    try {
      const saved = await readTree(docs);
      await rm(docs, { recursive: true });
      await waitFor(async () => /Docs: full backup FAILED: /.test(run.stderr()), 60_000, 'the refused full backup of a missing folder');
      for (const [name, data] of saved) {
        await mkdir(path.dirname(path.join(docs, name)), { recursive: true });
        await writeFile(path.join(docs, name), data);
      }
      await waitFor(async () => /Docs: its folder is back/.test(run.stdout()), 90_000, 'watched again');
      await writeFile(path.join(docs, 'after-remount.txt'), 'seen again\n');
      await arrives(path.join(mirror, 'after-remount.txt'), 'seen again\n');
      assert.equal(await exists(path.join(mirror, 'a.txt')), true, 'the missing folder was never mirrored');
    } finally {
      await stopWatch(run);
    }
  });

  it('nested mappings each get a change; a mapped folder that is a link is watched at its real path', async () => {
    const inner = path.join(docs, 'inner');
    const linked = path.join(w.sb.home, 'Linked');
    const real = path.join(w.sb.dir, 'real-folder');
    await mkdir(real);
    await writeFile(path.join(real, 'r.txt'), 'r\n');
    await symlink(real, linked);
    assert.equal((await runPoof(['config', '--map', `${inner}=Inner`, '--map', `${linked}=Linked`, '--force'], { env: w.sb.env })).code, 0);
    const run = await startWatch(w.sb);
    try {
      await writeFile(path.join(inner, 'i.txt'), 'i, changed\n');
      await writeFile(path.join(real, 'r.txt'), 'r, changed\n');
      await arrives(path.join(mirror, 'inner', 'i.txt'), 'i, changed\n');
      await arrives(path.join(await w.mirror('Inner'), 'i.txt'), 'i, changed\n');
      await arrives(path.join(await w.mirror('Linked'), 'r.txt'), 'r, changed\n');
      assert.doesNotMatch(run.stderr(), /cannot be watched/);
    } finally {
      await stopWatch(run);
      assert.equal((await runPoof(['config', '--unmap', 'Inner', '--unmap', 'Linked', '--force'], { env: w.sb.env })).code, 0);
    }
  });

  it('a "before" hook runs for every batch (each is a full backup then); a full backup stopped at the delete limit is not tried again', async () => {
    const hookLog = path.join(w.sb.dir, 'hook.log');
    await setConf(w.sb, (conf) => Object.assign(conf, { hooks: { before: `echo ran >> '${hookLog}'` }, rclone: { maxDelete: 2 } }));
    const run = await startWatch(w.sb);
    try {
      await writeFile(path.join(docs, 'hooked.txt'), 'with the hook\n');
      await arrives(path.join(mirror, 'hooked.txt'), 'with the hook\n');
      assert.ok((await readFile(hookLog, 'utf8')).split('\n').filter(Boolean).length >= 2, 'the catch-up and the batch each ran it');
      await mkdir(path.join(docs, 'many'));
      for (let i = 0; i < 10; i++) await writeFile(path.join(docs, 'many', `m${i}.txt`), `${i}\n`);
      await waitFor(async () => (await readdir(path.join(mirror, 'many')).catch(() => [])).length === 10, 30_000, 'ten files');
      await rm(path.join(docs, 'many'), { recursive: true });
      await waitFor(async () => /Docs: full backup FAILED: .*no more full backups of Docs until poof watch starts again/.test(run.stderr()), 60_000, 'the held full backup');
      const left = (await readdir(path.join(mirror, 'many')).catch(() => [])).length;
      await new Promise((resolve) => setTimeout(resolve, (QUICK.calmSeconds + 8) * 1000));
      assert.equal((await readdir(path.join(mirror, 'many')).catch(() => [])).length, left, 'no retry deleted more');
      assert.ok(left >= 8, `${left} of 10 left`);
    } finally {
      await stopWatch(run);
      await setConf(w.sb, (conf) => {
        delete conf.hooks;
        delete conf.rclone;
      });
    }
  });
});


describe('poof watch over WebDAV (rclone serve webdav), which keeps no times: a same-size edit still arrives', () => {
  it('the edit is sent although size and (missing) time say nothing changed; a folder made a file keeps the folder\'s files in the history', async () => {
    const sb = await makeSandbox();
    const server = await startRcloneWebdav(path.join(sb.dir, 'dav'));
    try {
      const { dirs } = await mapLocalDirs(sb, { Docs: { 'same.txt': 'version 1\n', 'project/main.c': 'int main;\n' } });
      const made = await runPoof(['cconfig', '--provider', 'webdav', '--url', `http://127.0.0.1:${server.port}`, '--user', 'u', '--secret-stdin', '--force'], { env: sb.env, input: 'p\n' });
      assert.equal(made.code, 0, made.stderr);
      await setConf(sb, (conf) => void (conf.watch = QUICK));
      const run = await startWatch(sb);
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      await writeFile(path.join(dirs.Docs!, 'same.txt'), 'version 2\n');
      await arrives(path.join(sb.dir, 'dav', bucket, 'Docs', 'same.txt'), 'version 2\n');
      // rclone's WebDAV removes what a failed write left: a file written over the folder would
      // remove the folder's files from the remote, unkept. The full backup clears the name first.
      await rm(path.join(dirs.Docs!, 'project'), { recursive: true });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await writeFile(path.join(dirs.Docs!, 'project'), 'now a file\n');
      await arrives(path.join(sb.dir, 'dav', bucket, 'Docs', 'project'), 'now a file\n');
      await stopWatch(run);
      assert.doesNotMatch(run.stderr(), /FAILED/);
      const versions = await runPoof(['versions', path.join(dirs.Docs!, 'project', 'main.c')], { env: sb.env });
      assert.equal(versions.code, 0, versions.stderr);
      assert.match(versions.stdout, /Docs\/project\/main\.c: 1 version/);
      const history = path.join(sb.dir, 'dav', bucket, '.poof-history');
      const kept = [];
      for (const run of await readdir(history)) kept.push(await readFile(path.join(history, run, 'Docs', 'project', 'main.c'), 'utf8').catch(() => undefined));
      assert.deepEqual(kept.filter((text) => text !== undefined), ['int main;\n'], 'kept in one run\'s folder on the server');
    } finally {
      await server.stop();
      await sb.cleanup();
    }
  });
});

describe('poof watch with links kept as links on a local-directory remote', () => {
  it('a link made a file and a file made a link, each by a rename over it: nothing is written through a link, and both old versions are kept', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n', 'b.txt': 'the file before the link\n' } });
    try {
      assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: w.sb.env })).code, 0);
      const docs = w.dirs.Docs!;
      const precious = path.join(w.sb.dir, 'precious.txt');
      await writeFile(precious, 'outside the mapping\n');
      await symlink(precious, path.join(docs, 'l'));
      const run = await startWatch(w.sb);
      const mirror = await w.mirror('Docs');
      assert.equal(await readFile(path.join(mirror, 'l.rclonelink'), 'utf8'), precious, 'the link, as a file naming where it points');
      // An editor's save over the link (no deletion event for its name), and a link renamed over a file.
      await writeFile(path.join(docs, '.l.swp'), 'a file now\n');
      await rename(path.join(docs, '.l.swp'), path.join(docs, 'l'));
      await symlink('a.txt', path.join(docs, '.b.swp'));
      await rename(path.join(docs, '.b.swp'), path.join(docs, 'b.txt'));
      await arrives(path.join(mirror, 'l'), 'a file now\n');
      await arrives(path.join(mirror, 'b.txt.rclonelink'), 'a.txt');
      assert.equal(await readFile(precious, 'utf8'), 'outside the mapping\n', 'nothing written through a link');
      await stopWatch(run);
      // The old versions leave the mirror with a full backup (watch's own, or the next backup's), kept in its history folder.
      const backup = await runPoof(['backup'], { env: w.sb.env });
      assert.equal(backup.code, 0, backup.stderr);
      const history = path.join(path.dirname(mirror), '.poof-history');
      const kept = new Map<string, string>();
      for (const id of await readdir(history)) {
        for (const name of ['l.rclonelink', 'b.txt']) {
          const text = await readFile(path.join(history, id, 'Docs', name), 'utf8').catch(() => undefined);
          if (text !== undefined) kept.set(name, text);
        }
      }
      assert.deepEqual(Object.fromEntries(kept), { 'l.rclonelink': precious, 'b.txt': 'the file before the link\n' });
      assert.deepEqual(await readTree(mirror, { links: true }), new Map([...(await readTree(docs, { links: true }))].map(([k, v]) => (v.toString().startsWith('-> ') ? [`${k}.rclonelink`, Buffer.from(v.toString().slice(3))] : [k, v]))));
    } finally {
      await w.stop();
    }
  });

  it('a link made a folder: the folder goes with the full backup, so the remote never holds the link and the folder at once (a restore would refuse that)', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n' } });
    try {
      assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: w.sb.env })).code, 0);
      const docs = w.dirs.Docs!;
      await symlink('a.txt', path.join(docs, 'dlink'));
      const run = await startWatch(w.sb);
      const mirror = await w.mirror('Docs');
      await rm(path.join(docs, 'dlink'));
      await mkdir(path.join(docs, 'dlink'));
      await writeFile(path.join(docs, 'dlink', 'in.txt'), 'in\n');
      await arrives(path.join(mirror, 'dlink', 'in.txt'), 'in\n', 60_000);
      assert.equal(await exists(path.join(mirror, 'dlink.rclonelink')), false, 'the link left the remote with it');
      await stopWatch(run);
      const into = path.join(w.sb.dir, 'fresh');
      const download = await runPoof(['download', '--to', into, '--yes'], { env: w.sb.env });
      assert.equal(download.code, 0, download.stdout + download.stderr);
      assert.equal(await readFile(path.join(into, 'Docs', 'dlink', 'in.txt'), 'utf8'), 'in\n');
    } finally {
      await w.stop();
    }
  });
});

describe('poof watch on a terminal, and a local-directory remote that goes away and comes back', () => {
  it('a live status line on a terminal; Ctrl-C there (the terminal\'s SIGINT to the group) ends it with 130', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n' } });
    try {
      const run = startPoof(['watch'], w.sb.env, { tty: true });
      await waitFor(async () => /Docs: full backup done/.test(textOf(run)), 60_000, 'the catch-up backup');
      assert.match(textOf(run), /watching 1 directory · nothing copied yet · 0 waiting/);
      await writeFile(path.join(w.dirs.Docs!, 'b.txt'), 'b\n');
      await waitFor(async () => /watching 1 directory · last copy \d\d:\d\d:\d\d \(Docs, 1 file\) · 0 waiting/.test(textOf(run)), 30_000, 'the status line after a copy');
      run.child.stdin!.write('\x03');
      const ended = await run.exit;
      assert.equal(ended.code, 130, textOf(run));
      assert.match(textOf(run), /watch interrupted by SIGINT/);
    } finally {
      await w.stop();
    }
  });

  it('the cloud folder gone (a disk unplugged): copies fail and are tried again; back in place, the file arrives without a restart', async () => {
    const w = await watchedSandbox('a local-directory remote', { Docs: { 'a.txt': 'a\n' } });
    try {
      const run = await startWatch(w.sb);
      const mirror = await w.mirror('Docs');
      const cloud = path.dirname(path.dirname(mirror));
      // Where the disk was, something that is not a folder: rclone cannot make the bucket there.
      await rename(cloud, `${cloud}.away`);
      await writeFile(cloud, 'not the disk\n');
      await writeFile(path.join(w.dirs.Docs!, 'while-away.txt'), 'written while the disk was away\n');
      await waitFor(async () => /Docs: copy FAILED: .*trying again in \d+ s/.test(run.stderr()), 60_000, 'the failed copy');
      await rm(cloud);
      await rename(`${cloud}.away`, cloud);
      await arrives(path.join(mirror, 'while-away.txt'), 'written while the disk was away\n', 60_000);
      assert.equal(run.child.exitCode, null, 'still watching');
      await stopWatch(run);
    } finally {
      await w.stop();
    }
  });
});

describe('poof watch past the system\'s inotify limits (lowered in a user namespace of its own, as a container may)', () => {
  /** Runs poof in a new user namespace whose inotify limit `name` is `value`: nothing else on the machine is limited. */
  const limited = (name: string, value: number) => (command: string) => ['unshare', '--user', '--map-root-user', 'sh', '-c', `echo ${value} > /proc/sys/user/${name} && ${command}`];
  const trees = { Docs: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`d${i}/f.txt`, `${i}\n`])) };

  it('too few watches for its folders: says which limit and how to raise it, and backs up in full every minute instead', async () => {
    const w = await watchedSandbox('a local-directory remote', trees);
    try {
      await setConf(w.sb, (conf) => void (conf.watch = { ...QUICK, fullSyncMinutes: 1 }));
      const run = startPoof(['watch'], w.sb.env, { within: limited('max_inotify_watches', 10) });
      await waitFor(async () => /Docs: full backup done/.test(run.stdout()) || run.child.exitCode !== null, 60_000, 'the catch-up backup');
      assert.match(run.stderr(), /poof: \S+ \S+ Docs: cannot be watched \(.*No space left on device\): the system's limit on watched directories is reached: raise it \(now 10\), e\.g\. `sudo sysctl fs\.inotify\.max_user_watches=524288`.*; backed up in full every 1 min instead/);
      // Not watched, so nothing is copied seconds after a save: the next full backup brings it.
      await writeFile(path.join(w.dirs.Docs!, 'd3', 'saved.txt'), 'saved while unwatched\n');
      // The file is there before rclone ends; its full backup is reported after.
      await waitFor(async () => (run.stdout().match(/Docs: full backup done/g) ?? []).length === 2 || run.child.exitCode !== null, 100_000, 'the second full backup');
      assert.equal(await readFile(path.join(await w.mirror('Docs'), 'd3', 'saved.txt'), 'utf8'), 'saved while unwatched\n');
      assert.doesNotMatch(run.stdout(), /copied \d+ file/);
      await stopWatch(run);
    } finally {
      await w.stop();
    }
  });

  it('no file watcher left for this user: says so and how to raise it, and still backs up', async () => {
    const w = await watchedSandbox('a local-directory remote', trees);
    try {
      const run = startPoof(['watch'], w.sb.env, { within: limited('max_inotify_instances', 0) });
      await waitFor(async () => /Docs: full backup done/.test(run.stdout()) || run.child.exitCode !== null, 60_000, 'the catch-up backup');
      assert.match(run.stderr(), /Docs: cannot be watched \(.*\): the system's limit on file watchers is reached: raise it \(now 0\), e\.g\. `sudo sysctl fs\.inotify\.max_user_instances=1024`; backed up in full every 5 min instead/);
      assert.doesNotMatch(run.stderr(), /anchor/, 'names no folder of poof\'s own');
      assert.deepEqual(await readTree(await w.mirror('Docs')), await readTree(w.dirs.Docs!));
      await stopWatch(run);
    } finally {
      await w.stop();
    }
  });
});

describe('verify, backup and watch refuse a mapping whose copy would land inside it', () => {
  it('a local cloud inside the mapped folder: verify fails naming it, backup refuses it, and watch has nothing left to watch (exit 2)', async () => {
    const sb = await makeSandbox();
    try {
      const docs = path.join(sb.home, 'Docs');
      await mkdir(docs, { recursive: true });
      await writeFile(path.join(docs, 'a.txt'), 'a\n');
      assert.equal((await runPoof(['config', '--map', `${docs}=Docs`], { env: sb.env })).code, 0);
      assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(docs, 'cloud')], { env: sb.env })).code, 0);
      // verify says so before any run does, and a backup refuses it in the same words.
      const verify = await runPoof(['verify', '--offline'], { env: sb.env });
      assert.equal(verify.code, 4, verify.stdout);
      assert.match(verify.stdout, /mapped dir Docs.*the backup destination \S+ overlaps the directory itself/);
      assert.doesNotMatch(verify.stdout, /poof is ready/);
      const backup = await runPoof(['backup'], { env: sb.env });
      assert.equal(backup.code, 1, backup.stderr);
      assert.match(backup.stderr, /Docs: REFUSED: the backup destination \S+ overlaps the directory itself; keep the local "cloud" elsewhere: `poof cconfig --provider local --root DIR --force`/);
      const watch = await runPoof(['watch'], { env: sb.env });
      assert.equal(watch.code, 2, watch.stderr);
      assert.match(watch.stderr, /poof: Docs: REFUSED: the backup destination \S+ overlaps the directory itself; keep the local "cloud" elsewhere: `poof cconfig --provider local --root DIR --force`; not watched/);
      assert.match(watch.stderr, /no mapping to watch/);
      assert.deepEqual([...(await readTree(path.join(docs, 'cloud')))], [], 'nothing was copied');
    } finally {
      await sb.cleanup();
    }
  });
});

describe('poof watch over S3 (s3rver)', () => {
  it('a save arrives, read back through rclone; a deletion follows with the full backup', async () => {
    const sb = await makeSandbox();
    const { dirs } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n', 'gone.txt': 'to delete\n' } });
    const { env, s3 } = await cconfigS3(sb);
    try {
      await setConf(sb, (conf) => void (conf.watch = QUICK));
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      const rcloneConf = path.join(sb.confdir, 'rclone-poof.conf');
      // Without AWS_CA_BUNDLE, as poof runs rclone: rclone 1.60 fails every S3 call with it set.
      const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== 'AWS_CA_BUNDLE' && !key.startsWith('RCLONE_')));
      const rclone = (args: string[]) =>
        new Promise<string>((resolve, reject) => {
          const child = spawn('rclone', [...args, '--config', rcloneConf], { env: clean, stdio: ['ignore', 'pipe', 'ignore'] });
          let out = '';
          child.stdout.on('data', (d: Buffer) => (out += d.toString()));
          child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rclone ${args[0]} exited ${code}`))));
        });
      // What the remote holds, by name (rclone cat of a missing object prints nothing and exits 0).
      const cat = async (name: string) => ((await rclone(['lsf', `poof-backup:${bucket}/Docs`])).split('\n').includes(name) ? rclone(['cat', `poof-backup:${bucket}/Docs/${name}`]) : undefined);
      const run = startPoof(['watch'], env);
      await waitFor(async () => /full backup done/.test(run.stdout()), 60_000, 'the catch-up backup');
      await writeFile(path.join(dirs.Docs!, 'new.txt'), 'saved to S3\n');
      await waitFor(async () => (await cat('new.txt')) === 'saved to S3\n', 30_000, 'new.txt on S3');
      await rm(path.join(dirs.Docs!, 'gone.txt'));
      await waitFor(async () => (await cat('gone.txt')) === undefined, 30_000, 'gone.txt deleted on S3');
      assert.equal(await cat('a.txt'), 'a\n');
      await stopWatch(run);
    } finally {
      await s3.stop();
      await sb.cleanup();
    }
  });
});
