import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStarted, pgrep, startPoof, waitFor, waitForTransfer } from '../helpers/background.js';
import { cconfigOpenSsh, makeSandbox, mapLocalDirs, runPoof, setConf, type Sandbox } from '../helpers/sandbox.js';
import { startRcloneWebdav, type SshServer } from '../helpers/servers.js';
import { rcloneOnPath } from '../helpers/rclone-version.js';
import { readTree } from '../helpers/tree.js';

/** Every file's content, by path, without poof's check file: what a user sees on one side. */
async function contents(dir: string): Promise<Record<string, string>> {
  const tree = await readTree(dir);
  return Object.fromEntries([...tree].filter(([name]) => name !== '.poof-sync-check').map(([name, data]) => [name, data.toString()]).sort(([a], [b]) => ((a ?? '') < (b ?? '') ? -1 : 1)));
}

/** Write a file with a modification time `ageSeconds` in the past, so each change is newer than the last. */
async function put(file: string, content: string, ageSeconds = 0): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  const when = new Date(Date.now() - ageSeconds * 1000);
  await utimes(file, when, when);
}


type RemoteKind = 'a local-directory remote' | 'OpenSSH';
const KINDS: RemoteKind[] = ['a local-directory remote', 'OpenSSH'];

interface TwoWay {
  sb: Sandbox;
  dirs: Record<string, string>;
  logFile: string;
  /** The remote copy of a mapping on the server's own disk. */
  serverDir: (name: string) => Promise<string>;
  stop: () => Promise<void>;
}

/** Mapped directories, and poof pointed at a local-directory cloud or at a real OpenSSH server. */
async function twoWaySandbox(kind: RemoteKind, trees: Record<string, Record<string, string>>): Promise<TwoWay> {
  const sb = await makeSandbox();
  const made = await mapLocalDirs(sb, trees);
  let sshd: SshServer | undefined;
  if (kind === 'OpenSSH') sshd = await cconfigOpenSsh(sb);
  const bucket = async () => (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
  return {
    sb,
    dirs: made.dirs,
    logFile: made.paths.logFile!,
    serverDir: async (name) => path.join(sshd ? sshd.root : made.cloud, await bucket(), name),
    stop: async () => {
      await sshd?.stop();
      await sb.cleanup();
    },
  };
}

/**
 * `poof sync` over a local-directory remote and over a real OpenSSH server, where the "server
 * side" is the directory this test writes into directly, as the server itself would. Real rclone
 * bisync (1.60 in one CI pass, the current release in the other).
 */
for (const kind of KINDS) describe(`poof sync: two-way mappings with rclone bisync, on ${kind}`, () => {
  let sb: Sandbox;
  let local: string;
  let docs: string;
  let server: string;
  let stop: () => Promise<void>;

  before(async () => {
    const made = await twoWaySandbox(kind, { Projects: { 'plan.txt': 'local plan\n', 'only-here.txt': 'mine\n' }, Docs: { 'd.txt': 'doc\n' } });
    ({ sb, stop } = made);
    local = made.dirs.Projects!;
    docs = made.dirs.Docs!;
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    server = await made.serverDir('Projects');
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
  });
  after(() => stop());

  it('poof.conf: "sync" must name mappings, and is refused with append-only, naming the field (exit 3)', async () => {
    await setConf(sb, (conf) => void (conf.sync = ['Projects', 'Nope']));
    const unknown = await runPoof(['sync'], { env: sb.env });
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /sync\[1\] names "Nope", which no mapping in "paths" has/);
    await setConf(sb, (conf) => Object.assign(conf, { sync: ['Projects'], mode: 'append-only', keep: { within: '30d' } }));
    const appendOnly = await runPoof(['sync'], { env: sb.env });
    assert.equal(appendOnly.code, 3);
    assert.match(appendOnly.stderr, /sync names two-way mappings, but an append-only backup never deletes/);
    await setConf(sb, (conf) => {
      delete conf.mode;
      delete conf.keep;
    });
  });

  it('the first sync is refused until --resync, changing nothing; the resync keeps both copies of a file that differs', async () => {
    // The server has its own version of plan.txt (newer), and a file of its own.
    await put(path.join(server, 'plan.txt'), 'server plan\n');
    await put(path.join(server, 'only-there.txt'), 'theirs\n');
    // And a file that differs in content only: same size, same time (a tool that keeps the date).
    const sameTime = new Date('2026-01-01T12:00:00Z');
    await put(path.join(local, 'same-time.txt'), 'mine-1\n');
    await put(path.join(server, 'same-time.txt'), 'them-1\n');
    for (const file of [path.join(local, 'same-time.txt'), path.join(server, 'same-time.txt')]) await utimes(file, sameTime, sameTime);
    const before = { here: await contents(local), there: await contents(server) };
    const first = await runPoof(['sync'], { env: sb.env });
    assert.equal(first.code, 1);
    assert.match(first.stderr, /Projects: REFUSED: Projects has never been synced two-way: run `poof sync --only Projects --resync` once/);
    assert.deepEqual({ here: await contents(local), there: await contents(server) }, before);

    const dry = await runPoof(['sync', '--resync', '--dry-run'], { env: sb.env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /\[dry run\] Projects: ok: both sides would be joined: each has every file of the other; 2 files differed on the two sides: both copies kept \((?=[^)]*plan\.txt)(?=[^)]*same-time\.txt)/);
    assert.deepEqual({ here: await contents(local), there: await contents(server) }, before);

    const resync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(resync.code, 0, resync.stderr);
    assert.match(resync.stdout, /^Projects: ok: both sides are joined: each has every file of the other; 2 files differed/m);
    const here = await contents(local);
    assert.deepEqual(here, await contents(server), 'both sides hold the same files');
    const kept = Object.keys(here).find((name) => name.startsWith('plan.txt.poof-remote-'));
    const keptSame = Object.keys(here).find((name) => name.startsWith('same-time.txt.poof-remote-'));
    assert.ok(kept && keptSame, Object.keys(here).join(', '));
    assert.deepEqual(here, { 'only-here.txt': 'mine\n', 'only-there.txt': 'theirs\n', 'plan.txt': 'local plan\n', [kept]: 'server plan\n', 'same-time.txt': 'mine-1\n', [keptSame]: 'them-1\n' });
  });

  it('changes, new files and deletions on either side reach the other; the server\'s own writes come back here', async () => {
    await put(path.join(local, 'plan.txt'), 'local plan, edited\n');
    await put(path.join(local, 'sub/new-here.txt'), 'new here\n');
    await put(path.join(server, 'only-there.txt'), 'theirs, edited on the server\n');
    await put(path.join(server, 'deep/new-there.txt'), 'new there\n');
    const sync = await runPoof(['sync'], { env: sb.env });
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /Projects: ok: 2 to the remote, 2 to here, 0 deleted/);
    assert.deepEqual(await contents(local), await contents(server));
    assert.equal((await contents(local))['deep/new-there.txt'], 'new there\n');
    assert.equal((await contents(server))['plan.txt'], 'local plan, edited\n');

    await rm(path.join(local, 'sub/new-here.txt'));
    await rm(path.join(server, 'deep/new-there.txt'));
    const deletions = await runPoof(['sync', '--max-delete', '50'], { env: sb.env });
    assert.equal(deletions.code, 0, deletions.stderr);
    assert.deepEqual(await contents(local), await contents(server));
    assert.equal('sub/new-here.txt' in (await contents(server)), false);
    assert.equal('deep/new-there.txt' in (await contents(local)), false);

    // What the syncs replaced or deleted on each side is kept on that side: by rclone's backup
    // dirs (1.66+), or copied first by poof from what a dry run named (1.60).
    const keptIn = (run: { stderr: string }) => {
      const found = /kept in (\S+) \(here\) and \S+\/(\.poof-sync-kept\/\d{8}T\d{6}Z-[0-9a-f]{4}) \(the remote\)/.exec(run.stderr);
      assert.ok(found, run.stderr);
      return { here: path.join(found[1]!, 'Projects'), there: path.join(path.dirname(server), found[2]!, 'Projects') };
    };
    const first = keptIn(sync);
    assert.deepEqual(await contents(first.here), { 'only-there.txt': 'theirs\n' });
    assert.deepEqual(await contents(first.there), { 'plan.txt': 'local plan\n' });
    const second = keptIn(deletions);
    assert.deepEqual(await contents(second.here), { 'deep/new-there.txt': 'new there\n' });
    assert.deepEqual(await contents(second.there), { 'sub/new-here.txt': 'new here\n' });
    if (!rcloneOnPath().can.bisyncSafetyFlags) assert.match(sync.stderr, /bisync is experimental before 1\.66; poof copied first what a dry run said this sync would replace/);
  });

  it('poof history and poof versions show what the syncs kept, on both sides; "keep" prunes it (poof prune, and after a sync); restore --at is refused', async () => {
    type Side = { files: number; folder: string };
    const listed = async () => {
      const history = await runPoof(['history', '--only', 'Projects', '--json'], { env: sb.env });
      assert.equal(history.code, 0, history.stderr);
      return (JSON.parse(history.stdout) as { mappings: Array<{ syncKept: Array<{ keptId: string; here: Side; remote: Side }> }> }).mappings[0]!.syncKept;
    };
    const all = await listed();
    const onServer = (k: { keptId: string }) => path.join(path.dirname(server), '.poof-sync-kept', k.keptId, 'Projects');
    // What the --resync replaced on the remote is kept too (a copy is beside it as well).
    const resyncKept = 1;
    assert.equal(all.length, 2 + resyncKept);
    assert.deepEqual(await contents(onServer(all[0]!)), { 'plan.txt': 'server plan\n', 'same-time.txt': 'them-1\n' });
    const kept = all.slice(resyncKept);
    assert.deepEqual(kept.map((k) => [k.here.files, k.remote.files]), [[1, 1], [1, 1]]);
    const text = await runPoof(['history', '--only', 'Projects'], { env: sb.env });
    assert.match(text.stdout, new RegExp(`Projects: ${all.length} syncs keep what they replaced or deleted`));
    assert.match(text.stdout, new RegExp(`${kept[1]!.keptId} .* here: 1 file \\(\\d+ B\\) in \\S+; remote: 1 file`));

    // One file's kept copies: where each is, on its side, with the content it had.
    const versions = await runPoof(['versions', path.join(local, 'only-there.txt')], { env: sb.env });
    assert.equal(versions.code, 0, versions.stderr);
    const copy = /replaced by sync \d{8}T\d{6}Z \([^)]*\), here: (\S+)/.exec(versions.stdout)?.[1];
    assert.ok(copy, versions.stdout);
    assert.equal(await readFile(copy, 'utf8'), 'theirs\n');
    const remoteCopy = await runPoof(['versions', 'Projects/plan.txt', '--json'], { env: sb.env });
    const copies = (JSON.parse(remoteCopy.stdout) as { syncKept: Array<{ side: string; at: string; keptId: string }> }).syncKept;
    assert.deepEqual(copies.map((c) => [c.side, c.keptId]), all.slice(0, resyncKept + 1).map((k) => ['remote', k.keptId]));
    assert.equal(await readFile(path.join(onServer(kept[0]!), 'plan.txt'), 'utf8'), 'local plan\n');

    // A past backup run cannot be rebuilt from a remote copy sync has changed: refused, nothing changed.
    const runId = (JSON.parse((await runPoof(['history', '--only', 'Projects', '--json'], { env: sb.env })).stdout) as { mappings: Array<{ runs: Array<{ id: string }> }> }).mappings[0]!.runs[0]!.id;
    const before = await contents(local);
    const restore = await runPoof(['restore', '--at', runId, '--only', 'Projects', '--yes'], { env: sb.env });
    assert.equal(restore.code, 1, restore.stderr);
    assert.match(restore.stderr + restore.stdout, /Projects is two-way: `poof sync` changes its remote copy between backup runs, so no past run of it can be rebuilt/);
    assert.deepEqual(await contents(local), before);

    // "keep": {"last": 1}: the newest sync keeps its folder (the state just before it), the
    // older syncs' folders go, on both sides.
    await setConf(sb, (conf) => void (conf.keep = { last: 1 }));
    const dry = await runPoof(['prune', '--dry-run', '--only', 'Projects'], { env: sb.env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`Projects: two-way syncs: would remove the keep folders of ${1 + resyncKept} syncs? \\(${2 + 2 * resyncKept} files, \\d+ B freed\\); 1 kept`));
    assert.equal((await listed()).length, all.length);
    const pruned = await runPoof(['prune', '--only', 'Projects'], { env: sb.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual((await listed()).map((k) => k.keptId), [kept[1]!.keptId]);
    assert.equal(existsSync(kept[0]!.here.folder), false);
    assert.equal(existsSync(onServer(kept[0]!)), false);
    assert.deepEqual(await contents(onServer(kept[1]!)), { 'sub/new-here.txt': 'new here\n' });
    // A sync prunes the folders "keep" no longer needs (never its own): now the one before it.
    await put(path.join(server, 'only-there.txt'), 'theirs, edited again on the server\n');
    const sync = await runPoof(['sync'], { env: sb.env });
    assert.equal(sync.code, 0, sync.stderr);
    const after = await listed();
    assert.equal(after.length, 1);
    assert.notEqual(after[0]!.keptId, kept[1]!.keptId);
    assert.deepEqual(await contents(after[0]!.here.folder), { 'only-there.txt': 'theirs, edited on the server\n' });
    assert.equal(existsSync(onServer(kept[1]!)), false);
    await setConf(sb, (conf) => void delete conf.keep);
  });

  it('a file changed on both sides keeps both copies on both sides, never one silently', async () => {
    // Times well apart from the last sync's (bisync 1.60 sees a change by its time alone, to the second).
    const listed = (await stat(path.join(local, 'plan.txt'))).mtimeMs;
    await put(path.join(local, 'plan.txt'), 'edited here\n', (Date.now() - listed) / 1000 + 200);
    await put(path.join(server, 'plan.txt'), 'edited there\n', (Date.now() - listed) / 1000 + 100);
    const sync = await runPoof(['sync'], { env: sb.env });
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /1 changed on both sides: both copies kept/);
    const here = await contents(local);
    assert.deepEqual(here, await contents(server));
    const versions = Object.entries(here).filter(([name]) => name.startsWith('plan.txt') && !name.includes('.poof-remote-')).map(([, text]) => text).sort();
    assert.deepEqual(versions, ['edited here\n', 'edited there\n'], 'rclone 1.60 names them plan.txt..path1/..path2, 1.66+ plan.txt.conflict1/2');
    const copies = Object.keys(here).filter((name) => /^plan\.txt(\.\.path[12]|\.conflict\d+)$/.test(name));
    assert.equal(copies.length, 2, Object.keys(here).join(', '));
    if (!rcloneOnPath().can.bisyncSafetyFlags) {
      // rclone 1.60 would replace those copies at the next conflict on plan.txt: poof waits until they are resolved.
      await put(path.join(local, 'other.txt'), 'other\n');
      const waiting = await runPoof(['sync'], { env: sb.env });
      assert.equal(waiting.code, 1);
      assert.match(waiting.stderr, /Projects: REFUSED: conflict copies from an earlier sync are still here \(plan\.txt\.\.path1, plan\.txt\.\.path2\): rclone before 1\.66 would replace them/);
      assert.equal('other.txt' in (await contents(server)), false, 'nothing was synced');
    }
    // The user resolves the conflict: one copy under the file's own name, the others deleted.
    await put(path.join(local, 'plan.txt'), 'edited here\n');
    for (const copy of copies) await rm(path.join(local, copy));
    const resolved = await runPoof(['sync', '--max-delete', '100'], { env: sb.env });
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.deepEqual(await contents(local), await contents(server));
    assert.equal((await contents(server))['plan.txt'], 'edited here\n');
  });

  it('symbolic links in a two-way mapping are refused before anything changes: bisync would write through them', async () => {
    const outside = path.join(path.dirname(local), 'outside');
    await put(path.join(outside, 'mine.txt'), 'outside the mapping\n');
    await symlink(outside, path.join(local, 'linked'));
    await put(path.join(server, 'linked/mine.txt'), 'from the server\n');
    const there = await contents(server);
    const refused = await runPoof(['sync'], { env: sb.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Projects: REFUSED: Projects holds symbolic links \(linked\): rclone bisync would write what comes from the other side through them, outside the mapping/);
    assert.equal(await readFile(path.join(outside, 'mine.txt'), 'utf8'), 'outside the mapping\n');
    assert.deepEqual(await contents(server), there);
    await rm(path.join(local, 'linked'));
    await rm(path.join(server, 'linked'), { recursive: true });
    if (kind === 'a local-directory remote') {
      // The remote copy is on this machine's disk: a link there would be written through as well.
      await symlink(outside, path.join(server, 'linked-there'));
      const remoteLink = await runPoof(['sync'], { env: sb.env });
      assert.equal(remoteLink.code, 1);
      assert.match(remoteLink.stderr, /Projects: REFUSED: the remote copy of Projects holds symbolic links \(linked-there\)/);
      assert.equal(await readFile(path.join(outside, 'mine.txt'), 'utf8'), 'outside the mapping\n');
      await rm(path.join(server, 'linked-there'));
    }
  });

  it('a sync that would delete more than the limit stops before changing anything, and says how to go on', async () => {
    for (let i = 0; i < 20; i++) await put(path.join(local, `batch/f${i}.txt`), `file ${i}\n`);
    assert.equal((await runPoof(['sync'], { env: sb.env })).code, 0);
    for (let i = 0; i < 6; i++) await rm(path.join(local, `batch/f${i}.txt`));
    const there = await contents(server);
    const stopped = await runPoof(['sync'], { env: sb.env });
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /Projects: FAILED: stopped: it would delete more than 10% of Projects's files on one side, so nothing was changed; if those deletions are meant, run `poof sync --only Projects --max-delete 100`/);
    assert.deepEqual(await contents(server), there, 'nothing deleted on the remote');
    await setConf(sb, (conf) => void (conf.syncMaxDelete = 50));
    const allowed = await runPoof(['sync'], { env: sb.env });
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal((await readdir(path.join(server, 'batch'))).length, 14);
  });

  it('a missing check file on one side (the wrong remote, a disk not mounted) stops the sync before it changes anything', async () => {
    await rm(path.join(server, '.poof-sync-check'));
    await put(path.join(local, 'after-check.txt'), 'x\n');
    const there = await contents(server);
    const stopped = await runPoof(['sync'], { env: sb.env });
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /Projects: FAILED: stopped: \.poof-sync-check is missing on one side/);
    assert.deepEqual(await contents(server), there);
    const resync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(resync.code, 0, resync.stderr);
    assert.deepEqual(await contents(local), await contents(server));
  });

  it('a file replaced by a folder of the same name is refused before bisync sees it (it would stop for good), and goes through once renamed', async () => {
    await rm(path.join(local, 'only-here.txt'));
    await put(path.join(local, 'only-here.txt/inner.txt'), 'a folder now\n');
    const there = await contents(server);
    const refused = await runPoof(['sync'], { env: sb.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Projects: REFUSED: only-here\.txt was a file at the last sync and is a folder now, or the reverse: rclone bisync cannot carry that over/);
    assert.deepEqual(await contents(server), there);
    await rename(path.join(local, 'only-here.txt'), path.join(local, 'only-here-folder'));
    const renamed = await runPoof(['sync', '--max-delete', '100'], { env: sb.env });
    assert.equal(renamed.code, 0, renamed.stderr);
    const here = await contents(local);
    assert.deepEqual(here, await contents(server));
    assert.equal(here['only-here-folder/inner.txt'], 'a folder now\n');
    assert.equal('only-here.txt' in here, false);
  });

  it('backup leaves the two-way mapping to sync (a mirror would delete what the server added), and upload refuses it', async () => {
    await put(path.join(server, 'added-on-server.txt'), 'keep me\n');
    await put(path.join(docs, 'd2.txt'), 'more docs\n');
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /Projects: two-way: kept in step by `poof sync`, not mirrored by backup/);
    assert.equal((await contents(server))['added-on-server.txt'], 'keep me\n');
    // A restore drill has no run to hold a two-way mapping against: it says so and checks the others.
    const check = await runPoof(['check'], { env: sb.env });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, /Projects: two-way \("sync" in poof\.conf\): its remote copy changes with every sync, so there is no run to check it against/);
    const upload = await runPoof(['upload', '--yes', '--only', 'Projects'], { env: sb.env });
    assert.equal(upload.code, 1);
    assert.match(upload.stderr, /Projects is two-way \("sync" in poof\.conf\): wiping its files here would reach the remote as deletions/);
    assert.ok(Object.keys(await contents(local)).length > 5, 'nothing was wiped');
  });

  it('an uploaded mapping (its files wiped here, kept only on the remote) is refused: bisync would delete the only copy', async () => {
    const upload = await runPoof(['upload', '--yes', '--only', 'Docs'], { env: sb.env });
    assert.equal(upload.code, 0, upload.stderr);
    const bucket = path.dirname(server);
    const stored = await contents(path.join(bucket, 'Docs'));
    assert.ok(Object.keys(stored).length >= 1);
    await setConf(sb, (conf) => void (conf.sync = ['Projects', 'Docs']));
    const refused = await runPoof(['sync', '--only', 'Docs', '--resync'], { env: sb.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Docs: REFUSED: Docs was uploaded \(its files were wiped here, kept only on the remote\): a two-way sync would take them for deleted/);
    assert.deepEqual(await contents(path.join(bucket, 'Docs')), stored);
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
  });
});

describe('poof sync over OpenSSH: what the server itself writes comes back at the next sync', () => {
  let sb: Sandbox;
  let local: string;
  let server: string;
  let stop: () => Promise<void>;
  before(async () => {
    const made = await twoWaySandbox('OpenSSH', { Projects: { 'plan.txt': 'plan\n', 'sub/notes.txt': 'notes\n' } });
    ({ sb, stop } = made);
    local = made.dirs.Projects!;
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
    server = await made.serverDir('Projects');
    const resync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(resync.code, 0, resync.stderr);
    assert.deepEqual(await contents(server), await contents(local));
  });
  after(() => stop());

  it('files added, edited and deleted on the server\'s disk arrive here; changes made here arrive there', async () => {
    await put(path.join(server, 'from-server/report.txt'), 'written by the server\n');
    await put(path.join(server, 'plan.txt'), 'plan, edited on the server\n');
    await rm(path.join(server, 'sub/notes.txt'));
    await put(path.join(local, 'here.txt'), 'written here\n');
    const sync = await runPoof(['sync', '--max-delete', '50'], { env: sb.env });
    assert.equal(sync.code, 0, sync.stderr);
    const here = await contents(local);
    assert.deepEqual(here, await contents(server));
    assert.deepEqual(here, { 'from-server/report.txt': 'written by the server\n', 'here.txt': 'written here\n', 'plan.txt': 'plan, edited on the server\n' });
  });
});

for (const kind of KINDS) describe(`poof sync interrupted (SIGINT and SIGTERM to the process group), then run again, on ${kind}: nothing is lost`, () => {
  let sb: Sandbox;
  let local: string;
  let server: string;
  let logFile: string;
  let stop: () => Promise<void>;
  before(async () => {
    const made = await twoWaySandbox(kind, { Projects: { 'start.txt': 'start\n' } });
    ({ sb, stop, logFile } = made);
    local = made.dirs.Projects!;
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    server = await made.serverDir('Projects');
    await setConf(sb, (conf) => Object.assign(conf, { sync: ['Projects'], syncMaxDelete: 100 }));
    assert.equal((await runPoof(['sync', '--resync'], { env: sb.env })).code, 0);
  });
  after(() => stop());

  for (const [round, signal] of (['SIGINT', 'SIGTERM', 'SIGKILL'] as const).entries()) {
    const what = signal === 'SIGKILL' ? 'SIGKILL to poof alone (rclone bisync goes on, orphaned)' : `${signal} to the process group`;
    it(`${what} in the middle of a sync that copies both ways`, async () => {
      const expected: Record<string, string> = {};
      for (let i = 0; i < 30; i++) {
        const text = `${signal} ${i} ${'x'.repeat(40_000)}\n`;
        const side = i % 2 === 0 ? local : server;
        await put(path.join(side, `round${round}/f${i}.txt`), text);
        expected[`round${round}/f${i}.txt`] = text;
      }
      const before = await contents(local);
      await setConf(sb, (conf) => void (conf.rclone = { bwlimit: '100k' }));
      const run = startPoof(['sync'], sb.env);
      await waitForTransfer(logFile, 'Projects', 'bisync');
      if (signal === 'SIGKILL') {
        // On rclone 1.60 a dry run comes first (to keep what the sync replaces): the real one is the mark.
        const real = async () => (await pgrep(`bisync ${local}`, true)).split('\n').filter((line) => line !== '' && !line.includes('--dry-run'));
        await waitFor(async () => (await real()).length > 0, 30_000, 'the real rclone bisync (not its dry run)');
        process.kill(run.pid, 'SIGKILL');
        assert.equal((await run.exit).signal, 'SIGKILL');
        // The orphan ends at its next write to poof's closed pipe, or when done: never run beside it (below).
        await waitFor(async () => (await pgrep(`bisync ${local}`)) === '', 60_000, 'the orphaned rclone bisync to end');
      } else {
        process.kill(-run.pid, signal);
        const ended = await run.exit;
        assert.equal(ended.code, signal === 'SIGINT' ? 130 : 143, run.stderr());
      }
      await setConf(sb, (conf) => void delete conf.rclone);
      // Nothing that was here is gone, whatever the sync had done when it was stopped.
      const afterStop = await contents(local);
      for (const [name, text] of Object.entries(before)) assert.equal(afterStop[name], text, `${name} is still here`);
      // A cut-short file may sit under its real name (rclone before 1.63 writes in place), and 1.66+
      // may have lost its listings: poof joins both sides again the careful way.
      const again = await runPoof(['sync'], { env: sb.env });
      assert.match(again.stderr, /Projects: its last sync was cut short, so both sides were joined again/);
      assert.equal(again.code, 0, again.stderr);
      const here = await contents(local);
      assert.deepEqual(Object.keys(here), Object.keys(await contents(server)));
      // Every file, whole, on both sides: under its name, or (where a cut-short copy took its name) kept beside it.
      const there = await contents(server);
      for (const [name, text] of Object.entries(expected)) {
        const copies = (side: Record<string, string>) => Object.entries(side).filter(([other]) => other === name || other.startsWith(`${name}.poof-remote-`)).map(([, t]) => t);
        assert.ok(copies(here).includes(text), `${name} is whole here`);
        assert.ok(copies(there).includes(text), `${name} is whole on the remote`);
      }
    });
  }
});

describe('poof sync and a bisync still running (left by a poof that was killed)', () => {
  let sb: Sandbox;
  let stop: () => Promise<void>;
  let workdir: string;
  before(async () => {
    const made = await twoWaySandbox('a local-directory remote', { Projects: { 'a.txt': 'a\n' } });
    ({ sb, stop } = made);
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
    assert.equal((await runPoof(['sync', '--resync'], { env: sb.env })).code, 0);
    const stateDir = (JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as { stateDir: string }).stateDir;
    workdir = path.join(stateDir, 'sync', 'Projects');
  });
  after(() => stop());

  it('a bisync lock naming a live process stops the sync, naming it; once that process is gone the lock is cleared', async () => {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    const ended = new Promise((resolve) => other.on('exit', resolve));
    try {
      // As rclone 1.60 writes its lock: the pid alone (1.66+ writes JSON with "PID").
      await writeFile(path.join(workdir, 'home_x..remote_y.lck'), `${other.pid}\n`);
      const refused = await runPoof(['sync'], { env: sb.env });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`Projects: FAILED: an rclone bisync of Projects is still running \\(pid ${other.pid}\\), left by a poof that was killed; wait for it to end \\(or stop it: kill ${other.pid}\\)`));
    } finally {
      other.kill('SIGKILL');
      await ended;
    }
    const after = await runPoof(['sync'], { env: sb.env });
    assert.equal(after.code, 0, after.stderr);
    assert.deepEqual((await readdir(workdir)).filter((name) => name.endsWith('.lck')), []);
  });
});

for (const kind of KINDS) describe(`poof sync through crypt on ${kind}: other keys are refused before anything changes`, () => {
  let sb: Sandbox;
  let local: string;
  let cloud: string;
  let stop: () => Promise<void>;
  before(async () => {
    const made = await twoWaySandbox(kind, { Projects: { 'secret.txt': 'secret\n' } });
    ({ sb, stop } = made);
    local = made.dirs.Projects!;
    // The bucket on the storage's own disk: everything poof stores, encrypted.
    cloud = path.dirname(await made.serverDir('Projects'));
    assert.equal((await runPoof(['cconfig', '--crypt'], { env: sb.env })).code, 0);
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
    const resync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(resync.code, 0, resync.stderr);
  });
  after(() => stop());

  it('names are encrypted on the storage; with other keys the sync is refused, exit 1, and neither side changes', async () => {
    assert.ok((await readTree(cloud)).size > 0, 'the sync stored something');
    const stored = await readTree(cloud);
    assert.equal([...stored.keys()].some((name) => /secret|Projects|poof-sync-check/.test(name)), false);
    const replaced = await runPoof(['cconfig', '--crypt', '--force', '--replace-keys'], { env: sb.env });
    assert.equal(replaced.code, 0, replaced.stderr);
    await put(path.join(local, 'new.txt'), 'new\n');
    const before = await contents(local);
    const refused = await runPoof(['sync'], { env: sb.env });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot decrypt: wrong password or not a poof crypt remote .*; nothing was changed/);
    assert.deepEqual(await readTree(cloud), stored);
    assert.deepEqual(await contents(local), before);
    const kept = /the replaced keys are kept in (\S+) /.exec(replaced.stderr)?.[1];
    assert.ok(kept, replaced.stderr);
    assert.equal((await runPoof(['key', 'import', kept, '--force', '--replace-keys'], { env: sb.env })).code, 0);
    const back = await runPoof(['sync'], { env: sb.env });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /Projects: ok: 1 to the remote/);
  });
});

describe('poof sync where it could not keep both sides in step', () => {
  let sb: Sandbox;
  let local: string;
  let cloud: string;
  before(async () => {
    sb = await makeSandbox();
    const made = await mapLocalDirs(sb, { Projects: { 'plan.txt': 'plan\n', '.hidden': 'a hidden file\n' } });
    local = made.dirs.Projects!;
    cloud = made.cloud;
    await setConf(sb, (conf) => void (conf.sync = ['Projects']));
  });
  after(() => sb.cleanup());

  it('an exclude that would hide poof\'s check file (".*") does not stop two-way sync for good', async () => {
    await setConf(sb, (conf) => void (conf.excludes = ['.*']));
    const resync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(resync.code, 0, resync.stderr);
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    const server = path.join(cloud, bucket, 'Projects');
    await put(path.join(local, 'plan.txt'), 'plan, edited here\n');
    await put(path.join(server, 'theirs.txt'), 'added there\n');
    const sync = await runPoof(['sync'], { env: sb.env });
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /Projects: ok: 1 to the remote, 1 to here, 0 deleted/);
    assert.equal(await readFile(path.join(server, 'plan.txt'), 'utf8'), 'plan, edited here\n');
    assert.equal(await readFile(path.join(local, 'theirs.txt'), 'utf8'), 'added there\n');
    assert.equal(existsSync(path.join(server, '.hidden')), false, 'the excluded file stays here');
  });

  it('a local-directory cloud inside the mapping is refused before anything changes', async () => {
    const inside = path.join(local, 'cloud-inside');
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', inside, '--force'], { env: sb.env })).code, 0);
    const before = await contents(local);
    const sync = await runPoof(['sync', '--resync'], { env: sb.env });
    assert.equal(sync.code, 1, sync.stderr);
    assert.match(sync.stderr, /Projects: REFUSED: the backup destination \S+ overlaps the directory itself/);
    assert.deepEqual(await contents(local), before, 'nothing changed here, and nothing was written into the cloud inside it');
  });

  it('storage that keeps no modification times (WebDAV) is refused: a same-size edit would never cross while each sync said ok', async () => {
    const davRoot = path.join(sb.dir, 'dav-root');
    const dav = await startRcloneWebdav(davRoot);
    try {
      const made = await runPoof(['cconfig', '--provider', 'webdav', '--url', `http://127.0.0.1:${dav.port}`, '--user', 'u', '--secret-stdin', '--force'], { env: sb.env, input: 'p\n' });
      assert.equal(made.code, 0, made.stderr);
      const before = await contents(local);
      const sync = await runPoof(['sync', '--resync'], { env: sb.env });
      assert.equal(sync.code, 1, sync.stderr);
      assert.match(sync.stderr, /Projects: REFUSED: this storage keeps no modification times, and rclone bisync finds changes by them/);
      assert.deepEqual(await contents(local), before, 'nothing changed here');
      assert.deepEqual([...(await readTree(davRoot))], [], 'nothing was written there');
    } finally {
      await dav.stop();
    }
  });
});

describe('poof sync --resync killed while it sends this machine\'s copies of the files that differ', () => {
  it('SIGKILL to poof alone: the copy ends with it, and every version of the file is still somewhere', async () => {
    const sb = await makeSandbox();
    try {
      const made = await mapLocalDirs(sb, { Projects: { 'small.txt': 'small\n' } });
      const local = made.dirs.Projects!;
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      const server = path.join(made.cloud, bucket, 'Projects');
      const mine = randomBytes(20_000_000);
      const theirs = randomBytes(20_000_000);
      await writeFile(path.join(local, 'big.bin'), mine);
      await mkdir(server, { recursive: true });
      await writeFile(path.join(server, 'big.bin'), theirs);
      // 1 MB/s: the send of this machine's copy takes seconds.
      await setConf(sb, (conf) => Object.assign(conf, { sync: ['Projects'], rclone: { bwlimit: '1M' } }));
      const run = startPoof(['sync', '--resync'], sb.env);
      const sending = async () => (await pgrep('[-]-ignore-times', true)).split('\n').filter((line) => line.includes(`copy ${local} `));
      await waitFor(async () => (await sending()).length > 0, 60_000, 'the copy of this machine\'s differing files');
      assert.match((await sending())[0]!, /--bwlimit 1M/, 'it keeps to the bandwidth limit');
      await new Promise((r) => setTimeout(r, 1500));
      process.kill(run.pid, 'SIGKILL');
      await run.exit;
      // It writes a progress line each second: with poof gone, its next one ends it.
      await waitFor(async () => (await sending()).length === 0, 10_000, 'the orphaned copy to end with poof');
      await setConf(sb, (conf) => void delete conf.rclone);
      const again = await runPoof(['sync', '--resync'], { env: sb.env });
      assert.equal(again.code, 0, again.stderr);
      const copies = async (dir: string) => {
        const names = (await readdir(dir)).filter((name) => name.startsWith('big.bin'));
        return Promise.all(names.map(async (name) => ({ name, data: await readFile(path.join(dir, name)) })));
      };
      for (const side of [local, server]) {
        const found = await copies(side);
        assert.ok(found.find((c) => c.name === 'big.bin')?.data.equals(mine), `this machine's copy under its name in ${side}`);
        assert.ok(found.some((c) => c.name.startsWith('big.bin.poof-remote-') && c.data.equals(theirs)), `the remote's copy beside it in ${side}: ${found.map((c) => c.name).join(', ')}`);
      }
    } finally {
      await killStarted();
      await sb.cleanup();
    }
  });
});
