import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPoof, waitFor } from '../helpers/background.js';
import { writeHookedRclone, writeRcloneShim } from '../helpers/rclone-shim.js';
import { makeSandbox, mapLocalDirs, runPoof, setConf, type Sandbox } from '../helpers/sandbox.js';
import { readTrash, readTree } from '../helpers/tree.js';
import { seeded } from '../helpers/seeded.js';
import { assertEachRestores, changeRound, newestCompleteRun, propertyCheck, rcloneOut, runIds, snapshot, type Snapshot } from '../helpers/versions.js';

const execFileAsync = promisify(execFile);

type RunRecordJson = { command: string; status: string; exitCode: number; mappings: Array<{ status: string; checked?: number; reason?: string }> };

describe('versioned backups on a local-directory remote', () => {
  let sb: Sandbox;
  let dir: string;
  let cloud: string;
  let bucket: string;
  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n', 'a/report.md': '# report\n' } });
    dir = backup.dirs.Work!;
    cloud = backup.cloud;
    bucket = (JSON.parse(await readFile(backup.paths.poofConf!, 'utf8')) as { bucket: string }).bucket;
  });
  after(() => sb.cleanup());

  it('20 seeded runs of edits, deletes, renames and adds: restore --at each run gives that run\'s tree, byte for byte, with its times', async () => {
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 20261202));
  });

  it('a single path, in place: only that file comes back as it was; the rest is untouched', async () => {
    const ids = await runIds(sb, 'Work');
    await mkdir(path.join(dir, 'single'), { recursive: true });
    await writeFile(path.join(dir, 'single', 'keep.txt'), 'version one\n');
    await writeFile(path.join(dir, 'other.txt'), 'other one\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const first = (await runIds(sb, 'Work')).at(-1)!;
    assert.equal((await runIds(sb, 'Work')).length, ids.length + 1);
    await writeFile(path.join(dir, 'single', 'keep.txt'), 'version two, longer\n');
    await writeFile(path.join(dir, 'other.txt'), 'other two\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const restored = await runPoof(['restore', '--at', first, path.join(dir, 'single', 'keep.txt'), '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(await readFile(path.join(dir, 'single', 'keep.txt'), 'utf8'), 'version one\n');
    assert.equal(await readFile(path.join(dir, 'other.txt'), 'utf8'), 'other two\n', 'a path restore touches nothing else');
    const versions = await runPoof(['versions', 'Work/single/keep.txt', '--json'], { env: sb.env });
    const listed = JSON.parse(versions.stdout) as { versions: Array<{ size: number; replacedBy?: string }> };
    assert.deepEqual(listed.versions.map((v) => v.size), [20, 12], 'newest first: the mirror, then the kept one');
  });

  it('ransomware: every file encrypted in place and backed up; restore --at the run before brings everything back', async () => {
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const good = await readTree(dir);
    const before = (await runIds(sb, 'Work')).at(-1)!;
    for (const rel of good.keys()) await writeFile(path.join(dir, rel), Buffer.from(`ENCRYPTED ${rel} pay 1 BTC`));
    await writeFile(path.join(dir, 'README-RANSOM.txt'), 'pay up\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const restored = await runPoof(['restore', '--at', before, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(dir), good);
  });

  it('a file reached through a linked folder (links followed) is never deleted by a restore of a run before the link', async () => {
    const before = (await runIds(sb, 'Work')).at(-1)!;
    const outside = path.join(sb.dir, 'outside-the-mapping');
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, 'photo.jpg'), 'not poof\'s to delete\n');
    await symlink(outside, path.join(dir, 'ext'));
    try {
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      const restored = await runPoof(['restore', '--at', before, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal(await readFile(path.join(outside, 'photo.jpg'), 'utf8'), 'not poof\'s to delete\n');
    } finally {
      await rm(path.join(dir, 'ext'));
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    }
  });

  it('the layout is plain rclone: one kept version comes back with rclone alone', async () => {
    const ids = await runIds(sb, 'Work');
    const listing = await rcloneOut(sb, ['lsf', '-R', '--files-only', `poof-backup:${bucket}/.poof-history`]);
    const kept = listing.split('\n').find((l) => /^\d{8}T\d{6}Z\/Work\/.+/.test(l));
    assert.ok(kept, `a kept version in: ${listing}`);
    const target = path.join(sb.dir, 'by-hand');
    await rcloneOut(sb, ['copy', `poof-backup:${bucket}/.poof-history/${kept}`, target]);
    assert.deepEqual(await readFile(path.join(target, path.basename(kept))), await readFile(path.join(cloud, bucket, '.poof-history', kept)));
    assert.ok(listing.includes(`${ids.at(-1)}/Work.run.json.gz`), 'each run\'s manifest sits beside its folder');
  });

  it('on a local directory poof writes each run\'s record itself (no rclone started for it), with the mode rclone would give it, readable by rclone', async () => {
    const { shim, argvLog } = await writeRcloneShim(sb.dir);
    await writeFile(path.join(dir, 'notes.txt'), 'recorded without rclone\n');
    const result = await runPoof(['backup', '--json'], { env: { ...sb.env, POOF_RCLONE: shim } });
    assert.equal(result.code, 0, result.stderr);
    const runId = (JSON.parse(result.stdout) as { runId: string }).runId;
    const subcommands = (await readFile(argvLog, 'utf8')).trim().split('\n').map((line) => line.split(' ')[0]);
    assert.ok(subcommands.includes('sync'), subcommands.join(', '));
    assert.deepEqual(subcommands.filter((c) => c === 'rcat' || c === 'copyto'), [], 'no rclone writes the record');
    const record = path.join(cloud, bucket, '.poof-history', runId, 'Work.run.json.gz');
    assert.equal((await stat(record)).mode & 0o777, 0o666 & ~process.umask());
    const fetched = path.join(sb.dir, 'fetched-record');
    await rcloneOut(sb, ['copyto', `poof-backup:${bucket}/.poof-history/${runId}/Work.run.json.gz`, fetched]);
    const decoded = JSON.parse(gunzipSync(await readFile(fetched)).toString('utf8')) as { runId: string; status: string; files: Record<string, unknown> };
    assert.deepEqual([decoded.runId, decoded.status, Object.keys(decoded.files).sort()], [runId, 'complete', [...(await readTree(dir)).keys()].sort()]);
    await rm(argvLog, { force: true });
  });

  it('a run record cut short (the laptop died writing it) counts as a run that did not finish; on a new laptop the runs before it still come back', async () => {
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const good = await readTree(dir);
    const before = (await runIds(sb, 'Work')).at(-1)!;
    await writeFile(path.join(dir, 'notes.txt'), 'its record is cut short\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const cut = (await runIds(sb, 'Work')).at(-1)!;
    const record = path.join(cloud, bucket, '.poof-history', cut, 'Work.run.json.gz');
    const whole = await readFile(record);
    await writeFile(record, whole.subarray(0, Math.floor(whole.length / 2)));
    try {
      const fresh = { ...sb.env, HOME: path.join(sb.dir, 'new-laptop') };
      await mkdir(fresh.HOME, { recursive: true });
      const history = await runPoof(['history'], { env: fresh });
      assert.equal(history.code, 0, history.stderr);
      assert.match(history.stdout, new RegExp(`${cut} .* its record cannot be read \\(.+\\): counted as a run that did not finish`));
      const refused = await runPoof(['restore', '--at', cut, '--to', path.join(sb.dir, 'cut'), '--yes'], { env: fresh });
      assert.equal(refused.code, 1);
      assert.match(refused.stdout + refused.stderr, new RegExp(`run ${cut} did not finish`));
      const into = path.join(sb.dir, 'before-the-cut');
      const restored = await runPoof(['restore', '--at', before, '--to', into, '--yes'], { env: fresh });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await readTree(path.join(into, 'Work')), good);
    } finally {
      await writeFile(record, whole);
    }
  });

  it('history off: a pure mirror, nothing kept; back on, the next run records what the mirror holds after the gap', async () => {
    await mkdir(path.join(dir, 'gap'), { recursive: true });
    await writeFile(path.join(dir, 'gap', 'goes.txt'), 'deleted while history is off\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, history: false }));
    const before = await runIds(sb, 'Work');
    await writeFile(path.join(dir, 'notes.txt'), 'no history for this one\n');
    await rm(path.join(dir, 'gap', 'goes.txt'));
    await writeFile(path.join(dir, 'gap', 'added.txt'), 'added while history is off\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    assert.deepEqual(await runIds(sb, 'Work'), before);
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify(conf));
    await writeFile(path.join(dir, 'other.txt'), 'history is on again\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const into = path.join(sb.dir, 'after-the-gap');
    const restored = await runPoof(['restore', '--at', (await runIds(sb, 'Work')).at(-1)!, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'Work')), await readTree(dir), 'the run after the gap holds the file added and not the one deleted while history was off');
    const pre = await runPoof(['restore', '--at', before.at(-1)!, '--to', path.join(sb.dir, 'pre-gap'), '--yes'], { env: sb.env });
    assert.equal(pre.code, 1);
    assert.match(pre.stdout + pre.stderr, /Work: FAILED: what the remote holds is not what the run recorded, so nothing was restored: .*notes\.txt: .*"history": false/);
  });

  it('refuses --at that is not a time, and a time before every run, in one line', async () => {
    const bad = await runPoof(['restore', '--at', 'last tuesday'], { env: sb.env });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^poof: --at "last tuesday" is not a run or a time; give a run id \(poof history\), a date/);
    const early = await runPoof(['restore', '--at', '2020-01-01', '--to', path.join(sb.dir, 'early'), '--yes'], { env: sb.env });
    assert.equal(early.code, 1);
    assert.match(early.stderr + early.stdout, /Work: REFUSED: no complete run at or before that time \(the oldest kept is \d{8}T\d{6}Z\)/);
  });
});

describe('killed backups and restores never lose a kept run', () => {
  let sb: Sandbox;
  let dir: string;
  before(async () => {
    sb = await makeSandbox();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`f${i}.bin`] = Buffer.alloc(60_000 + i * 1000, i);
    dir = (await mapLocalDirs(sb, { Work: files })).dirs.Work!;
    const confFile = path.join(sb.confdir, 'poof.conf');
    await writeFile(confFile, JSON.stringify({ ...(JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>), keep: { last: 1000 } }));
  });
  after(() => sb.cleanup());

  it('6 backups and restores killed at seeded random moments (SIGINT, SIGTERM, SIGKILL to the group): every complete run still comes back byte for byte', async () => {
    const seed = Number(process.env.POOF_TEST_SEED ?? 31);
    const random = seeded(seed);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    const confFile = path.join(sb.confdir, 'poof.conf');
    const setLimit = async (bwlimit: string | undefined) => {
      const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
      if (bwlimit) conf.rclone = { bwlimit };
      else delete conf.rclone;
      await writeFile(confFile, JSON.stringify(conf));
    };
    const first = await runPoof(['backup', '--json'], { env: sb.env });
    const snapshots: Snapshot[] = [await snapshot(dir, (JSON.parse(first.stdout) as { runId: string }).runId)];
    for (let round = 0; round < 6; round++) {
      // Change about half the files, delete one, add one; then a backup that is killed mid-way.
      await changeRound(dir, random, round);
      await setLimit('400k');
      const signal = signals[Math.floor(random() * signals.length)]!;
      const delay = 300 + Math.floor(random() * 1_500);
      const killed = startPoof(['backup'], sb.env);
      await new Promise((r) => setTimeout(r, delay));
      try {
        process.kill(-killed.pid, signal);
      } catch {
        // It finished first: the checks hold all the same.
      }
      await killed.exit;
      await setLimit(undefined);
      const again = await runPoof(['backup'], { env: sb.env });
      assert.equal(again.code, 0, `seed ${seed} round ${round}: ${again.stderr}`);
      // The newest complete run is the tree now, whichever run (killed or not) wrote it.
      const newest = await newestCompleteRun(sb);
      assert.ok(!snapshots.some((s) => s.runId === newest), `seed ${seed} round ${round}: the round's changes are a run of their own`);
      snapshots.push(await snapshot(dir, newest));
      // A restore of an older run into a side directory, killed too: never a partial file.
      const older = snapshots[Math.floor(random() * snapshots.length)]!;
      const side = path.join(sb.dir, `side-${round}`);
      const restore = startPoof(['restore', '--at', older.runId, '--to', side, '--yes'], sb.env);
      await new Promise((r) => setTimeout(r, 200 + Math.floor(random() * 800)));
      try {
        process.kill(-restore.pid, signals[Math.floor(random() * signals.length)]!);
      } catch {
        // Finished first.
      }
      await restore.exit;
      const partial = await readTree(path.join(side, 'Work')).catch(() => new Map<string, Buffer>());
      for (const [rel, content] of partial) {
        if (rel.startsWith('.poof-restore-')) continue;
        assert.ok(older.tree.get(rel)?.equals(content), `seed ${seed} round ${round}: ${rel} restored from ${older.runId} is complete`);
      }
      await rm(side, { recursive: true, force: true });
    }
    await assertEachRestores(sb, snapshots, seed);
  });
});

describe('poof alone killed while its run\'s record waits to be written by rclone (SIGKILL to its pid, as an out-of-memory kill)', () => {
  let sb: Sandbox;
  let dir: string;
  before(async () => {
    sb = await makeSandbox();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 8; i++) files[`f${i}.bin`] = Buffer.alloc(100_000, i);
    dir = (await mapLocalDirs(sb, { Work: files })).dirs.Work!;
    // Through crypt: a record on a plain local directory is written by poof itself, not rclone.
    const made = await runPoof(['cconfig', '--crypt', '--force'], { env: sb.env });
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => sb.cleanup());

  it('the record left empty reads as a run that did not finish; the next backup, and the runs before, come back whole', async () => {
    const first = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
    const before = (JSON.parse(first.stdout) as { runId: string }).runId;
    const good = await readTree(dir);
    for (let i = 0; i < 8; i++) await writeFile(path.join(dir, `f${i}.bin`), Buffer.alloc(100_000, 50 + i));
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, rclone: { bwlimit: '200k' } }));
    const rcats = async () => (await execFileAsync('pgrep', ['-f', `rcat .*${sb.confdir}`]).catch(() => ({ stdout: '' }))).stdout.trim();
    const killed = startPoof(['backup'], sb.env);
    try {
      await waitFor(async () => (await rcats()) !== '', 30_000, 'the record writer');
      process.kill(killed.pid, 'SIGKILL');
      // Its input ends with poof: rclone stores what it got, nothing.
      await waitFor(async () => (await rcats()) === '', 30_000, 'the record writer to end');
    } finally {
      // The transfer poof left behind, as a reboot would.
      try {
        process.kill(-killed.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
      await killed.exit;
      await writeFile(confFile, JSON.stringify(conf));
    }
    const history = await runPoof(['history'], { env: sb.env });
    assert.equal(history.code, 0, history.stderr);
    assert.match(history.stdout, /its record cannot be read \(empty: poof was stopped before it wrote it\): counted as a run that did not finish/);
    const again = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(again.code, 0, again.stderr);
    const after = (JSON.parse(again.stdout) as { runId: string }).runId;
    for (const [runId, tree] of [[before, good], [after, await readTree(dir)]] as const) {
      const into = path.join(sb.dir, `restored-${runId}`);
      const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await readTree(path.join(into, 'Work')), tree, `run ${runId} comes back byte for byte`);
    }
  });
});

describe('retention: poof prune and the prune after each backup', () => {
  let sb: Sandbox;
  let dir: string;
  let history: string;
  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Work: { 'stays.txt': 'never changes\n' } });
    dir = backup.dirs.Work!;
    const { bucket } = JSON.parse(await readFile(backup.paths.poofConf!, 'utf8')) as { bucket: string };
    history = path.join(backup.cloud, bucket, '.poof-history');
  });
  after(() => sb.cleanup());

  it('keeps exactly the runs the policy says; every kept run still comes back byte for byte; the rest of the space is gone', async () => {
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as Record<string, unknown>;
    // A policy that keeps everything while the runs are made, then the last three.
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, keep: { last: 100 } }));
    const snapshots: Snapshot[] = [];
    for (let i = 1; i <= 6; i++) {
      await writeFile(path.join(dir, 'edited.txt'), `edit ${i} ${'y'.repeat(i * 100)}\n`);
      if (i % 2 === 0) await writeFile(path.join(dir, `added-${i}.txt`), `added in ${i}\n`);
      if (i === 5) await rm(path.join(dir, 'added-2.txt'));
      const backup = await runPoof(['backup', '--json'], { env: sb.env });
      assert.equal(backup.code, 0, backup.stderr);
      snapshots.push(await snapshot(dir, (JSON.parse(backup.stdout) as { runId: string }).runId));
    }
    const versionsIn = async () => [...(await readTree(history)).entries()].filter(([p]) => !p.endsWith('.run.json.gz'));
    const storedBefore = (await versionsIn()).map(([p]) => p);
    const bytesBefore = (await versionsIn()).reduce((sum, [, c]) => sum + c.length, 0);
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, keep: { last: 3 } }));
    const dry = await runPoof(['prune', '--dry-run', '--json'], { env: sb.env });
    assert.equal(dry.code, 0, dry.stderr);
    const planned = (JSON.parse(dry.stdout) as { mappings: Array<{ kept: Record<string, string[]>; forgotten: string[]; removedVersions: number; freedBytes: number }> }).mappings[0]!;
    assert.deepEqual(Object.keys(planned.kept).sort(), snapshots.slice(3).map((s) => s.runId));
    assert.deepEqual(planned.forgotten, snapshots.slice(0, 3).map((s) => s.runId));
    assert.deepEqual([...(await readTree(history)).keys()].filter((p) => !p.endsWith('.run.json.gz')), storedBefore, 'a dry run removes nothing');

    const pruned = await runPoof(['prune'], { env: sb.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, new RegExp(`Work: removed ${planned.removedVersions} kept versions \\(${planned.freedBytes} B freed\\); 3 runs kept; runs no longer restorable: ${snapshots.slice(0, 3).map((s) => s.runId).join(', ')}`));
    assert.deepEqual(await runIds(sb, 'Work'), snapshots.slice(3).map((s) => s.runId));
    // What is left is exactly what the kept runs need: the versions of edited.txt and added-2.txt they saw.
    const stored = await versionsIn();
    assert.equal(stored.length, storedBefore.length - planned.removedVersions);
    assert.equal(stored.reduce((sum, [, c]) => sum + c.length, 0), bytesBefore - planned.freedBytes, 'the space it reported is gone from the disk');
    for (const snap of snapshots.slice(3)) {
      const into = path.join(sb.dir, `kept-${snap.runId}`);
      assert.equal((await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env: sb.env })).code, 0);
      assert.deepEqual(await readTree(path.join(into, 'Work')), snap.tree, `kept run ${snap.runId}`);
    }
    const forgotten = await runPoof(['restore', '--at', snapshots[0]!.runId, '--to', path.join(sb.dir, 'gone'), '--yes'], { env: sb.env });
    assert.equal(forgotten.code, 1);
    assert.match(forgotten.stderr + forgotten.stdout, /Work: REFUSED: no complete run at or before that time/);

    // The next backup that changes something applies the policy by itself.
    await writeFile(path.join(dir, 'edited.txt'), 'edit 7\n');
    const seventh = await runPoof(['backup'], { env: sb.env });
    assert.equal(seventh.code, 0, seventh.stderr);
    assert.match(seventh.stdout, /history: Work: removed \d+ kept versions? \(\d+ B freed\); 3 runs kept; runs no longer restorable: /);
    assert.equal((await runIds(sb, 'Work')).length, 3);
    // verify lists the remote's history; status shows what the last listing found, asking nothing.
    const verify = await runPoof(['verify'], { env: sb.env });
    assert.match(verify.stdout, /ok {2}history: 3 runs kept \(\d{8}T\d{6}Z to \d{8}T\d{6}Z\), \d+ replaced versions \(\d+ bytes\); keep: last 3\n/);
    const status = await runPoof(['status', '--json'], { env: sb.env });
    const totals = (JSON.parse(status.stdout) as { history: { runs: number; versions: number; bytes: number } }).history;
    assert.equal(totals.runs, 3);
    const onDisk = (await versionsIn()).filter(([p]) => /^\d{8}T\d{6}Z\/Work\//.test(p));
    assert.deepEqual([totals.versions, totals.bytes], [onDisk.length, onDisk.reduce((sum, [, c]) => sum + c.length, 0)]);
    assert.match((await runPoof(['status'], { env: sb.env })).stdout, /^history: 3 runs kept on the remote \(.*\), \d+ replaced versions \([\d.]+ K?i?B\), as of .* UTC/m);
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify(conf));
  });
});

/**
 * An rclone whose deletions are slow and in no set order (as rclone's checkers delete several at
 * once): each path of a `delete --files-from-raw` list is deleted by a real rclone of its own, in
 * a seeded shuffle, and counted in a progress file, so a test can kill a prune after k of them.
 */
const SLOW_DELETE = [
  '#!/bin/bash',
  'if [ "$1" = delete ]; then',
  '  args=("$@")',
  '  for i in "${!args[@]}"; do [ "${args[$i]}" = --files-from-raw ] && at=$((i + 1)); done',
  '  list=${args[$at]}',
  '  awk -v seed="$POOF_TEST_SHUFFLE" \'BEGIN { srand(seed) } { print rand() "\\t" $0 }\' "$list" | sort -n | cut -f2- > "$list.shuffled"',
  '  while IFS= read -r line; do',
  '    printf \'%s\\n\' "$line" > "$list.one"',
  '    args[$at]="$list.one"',
  '    rclone "${args[@]}" || exit $?',
  '    echo "$line" >> "$POOF_TEST_PROGRESS"',
  '    sleep 0.2',
  '  done < "$list.shuffled"',
  '  exit 0',
  'fi',
  'exec rclone "$@"',
  '',
].join('\n');

describe('poof prune killed at seeded random moments (SIGINT, SIGTERM, SIGKILL to the group)', () => {
  let sb: Sandbox;
  let dir: string;
  let shim: string;
  let history: string;
  before(async () => {
    sb = await makeSandbox();
    const files: Record<string, string> = {};
    for (let i = 0; i < 8; i++) files[`f${i}.txt`] = `first ${i}\n`;
    const backup = await mapLocalDirs(sb, { Work: files });
    dir = backup.dirs.Work!;
    const { bucket } = JSON.parse(await readFile(backup.paths.poofConf!, 'utf8')) as { bucket: string };
    history = path.join(backup.cloud, bucket, '.poof-history');
    shim = path.join(sb.dir, 'rclone-slow-delete.sh');
    await writeFile(shim, SLOW_DELETE);
    await chmod(shim, 0o755);
  });
  after(() => sb.cleanup());

  it('every run still listed after each kill comes back byte for byte; the next prune finishes the job', async () => {
    const seed = Number(process.env.POOF_TEST_SEED ?? 47);
    const random = seeded(seed);
    const signals = ['SIGINT', 'SIGTERM', 'SIGKILL'] as const;
    const exitCodes = { SIGINT: 130, SIGTERM: 143, SIGKILL: 137 };
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    const snapshots: Snapshot[] = [];
    const restoresWhole = async (runId: string, label: string) => {
      const snap = snapshots.find((s) => s.runId === runId);
      assert.ok(snap, `${label}: ${runId} is a run the test made`);
      const into = path.join(sb.dir, `check-${runId}`);
      const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, `${label}: run ${runId} is listed, so it restores: ${restored.stderr}`);
      assert.deepEqual(await readTree(path.join(into, 'Work')), snap.tree, `${label}: run ${runId} comes back byte for byte`);
      await rm(into, { recursive: true, force: true });
    };
    const statusTotals = async () => {
      const totals = (JSON.parse((await runPoof(['status', '--json'], { env: sb.env })).stdout) as { history?: { runs: number; versions: number } }).history;
      return totals ? [totals.runs, totals.versions] : undefined;
    };
    const storedTotals = async () => {
      const stored = [...(await readTree(history)).keys()];
      return [stored.filter((p) => p.endsWith('.run.json.gz')).length, stored.filter((p) => !p.endsWith('.run.json.gz')).length];
    };
    let killedMidway = 0;
    for (let round = 0; round < 3; round++) {
      await writeFile(confFile, JSON.stringify({ ...conf, keep: { last: 1000 } }));
      for (let r = 0; r < 3; r++) {
        for (let i = 0; i < 8; i++) if (random() < 0.5) await writeFile(path.join(dir, `f${i}.txt`), `round ${round}.${r} file ${i} ${'z'.repeat(Math.floor(random() * 50))}\n`);
        await writeFile(path.join(dir, `added-${round}-${r}.txt`), `added in ${round}.${r}\n`);
        const backup = await runPoof(['backup', '--json'], { env: sb.env });
        assert.equal(backup.code, 0, backup.stderr);
        snapshots.push(await snapshot(dir, (JSON.parse(backup.stdout) as { runId: string }).runId));
      }
      await writeFile(confFile, JSON.stringify({ ...conf, keep: { last: 2 } }));
      const before = await runIds(sb, 'Work');
      const progress = path.join(sb.dir, `prune-progress-${round}`);
      const deletions = 1 + Math.floor(random() * 5);
      // Each signal once; the moment is seeded.
      const signal = signals[round % signals.length]!;
      const label = `seed ${seed} round ${round} (${signal} after ${deletions} deletions)`;
      const killed = startPoof(['prune'], { ...sb.env, POOF_RCLONE: shim, POOF_TEST_SHUFFLE: String(seed * 10 + round), POOF_TEST_PROGRESS: progress });
      let ended = false;
      void killed.exit.then(() => (ended = true));
      // The SIGKILL round is killed among the versions, after the records went.
      const among = signal === 'SIGKILL' ? (line: string) => line.split('/').length > 2 : () => true;
      const done = async () => (await readFile(progress, 'utf8').catch(() => '')).split('\n').filter(Boolean);
      await waitFor(async () => ended || ((await done()).length >= deletions && (await done()).some(among)), 60_000, `${label}: the prune's deletions`);
      try {
        process.kill(-killed.pid, signal);
      } catch {
        // It finished first.
      }
      const exit = await killed.exit;
      // What `poof status` says the remote keeps (no remote call): unknown after a prune stopped
      // partway, exact after one that finished.
      assert.deepEqual(await statusTotals(), exit.code === 0 ? await storedTotals() : undefined, `${label}: the totals status shows`);
      const after = await runIds(sb, 'Work');
      if (exit.code !== 0) {
        killedMidway++;
        assert.ok(exit.code === null ? exit.signal === 'SIGKILL' : exit.code === exitCodes[signal], `${label}: exit ${exit.code} ${exit.signal}`);
        if (exit.code !== null) assert.match(killed.stderr(), /poof: the prune stopped (while|after) removing the records of the runs no longer kept \(Work: \d{8}T\d{6}Z/, label);
      }
      assert.ok(after.length <= before.length && after.length >= 2, `${label}: ${after.length} runs listed of ${before.length}`);
      for (const id of after) await restoresWhole(id, label);
    }
    assert.ok(killedMidway >= 2, `seed ${seed}: ${killedMidway} of 3 prunes were killed before they finished`);
    const finished = await runPoof(['prune'], { env: sb.env });
    assert.equal(finished.code, 0, finished.stderr);
    assert.deepEqual(await statusTotals(), await storedTotals(), 'after the prune that finished, status shows what the remote keeps');
    const kept = snapshots.slice(-2).map((s) => s.runId);
    assert.deepEqual(await runIds(sb, 'Work'), kept);
    for (const id of kept) await restoresWhole(id, `seed ${seed} after the last prune`);
  });
});

describe('retention on a calendar of runs: days, weeks and months', () => {
  let sb: Sandbox;
  after(() => sb?.cleanup());

  it('keeps exactly the runs daily/weekly/monthly name, each comes back byte for byte, and only the versions a kept run needs stay', async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Work: { 'stays.txt': 'never changes\n', 'a.txt': 'a0\n', 'b.txt': 'b0\n' } });
    const dir = backup.dirs.Work!;
    const { bucket } = JSON.parse(await readFile(backup.paths.poofConf!, 'utf8')) as { bucket: string };
    const history = path.join(backup.cloud, bucket, '.poof-history');
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, keep: { last: 100 } }));
    // Ten real runs, each changing, adding or deleting something.
    const random = seeded(14);
    const snapshots: Snapshot[] = [];
    for (let i = 0; i < 10; i++) {
      const name = ['a.txt', 'b.txt', `new-${i % 3}.txt`][Math.floor(random() * 3)]!;
      if (random() < 0.25) await rm(path.join(dir, name), { force: true });
      else await writeFile(path.join(dir, name), `${name} in run ${i}: ${'z'.repeat(Math.floor(random() * 300))}\n`);
      await writeFile(path.join(dir, 'a.txt'), `a${i}\n`);
      const run = await runPoof(['backup', '--json'], { env: sb.env });
      assert.equal(run.code, 0, run.stderr);
      snapshots.push(await snapshot(dir, (JSON.parse(run.stdout) as { runId: string }).runId));
    }
    // Moved onto a calendar (UTC): the remote now holds a history of four months, as a laptop
    // backing up now and then would leave it. Folders, pass folders and records all follow.
    const calendar = ['20260803T100000Z', '20260914T100000Z', '20261005T100000Z', '20261020T100000Z', '20261102T090000Z', '20261102T150000Z', '20261109T100000Z', '20261116T100000Z', '20261117T100000Z', '20261117T180000Z'];
    const { readdir, rename: move } = await import('node:fs/promises');
    for (const [i, snap] of snapshots.entries()) {
      for (const folder of (await readdir(history)).filter((f) => f === snap.runId || f.startsWith(`${snap.runId}-`))) {
        await move(path.join(history, folder), path.join(history, folder.replace(snap.runId, calendar[i]!)));
      }
      const record = path.join(history, calendar[i]!, 'Work.run.json.gz');
      const manifest = JSON.parse(gunzipSync(await readFile(record)).toString()) as { runId: string };
      await writeFile(record, gzipSync(JSON.stringify({ ...manifest, runId: calendar[i] })));
      snap.runId = calendar[i]!;
    }
    // This machine forgets what it cached: everything comes from the remote.
    await rm(path.join(sb.home, '.local', 'state'), { recursive: true, force: true });
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, keep: { daily: 2, weekly: 2, monthly: 3 } }));
    const env = { ...sb.env, TZ: 'UTC' };
    const versionsBefore = [...(await readTree(history)).keys()].filter((p) => !p.endsWith('.run.json.gz')).length;
    const pruned = await runPoof(['prune', '--json'], { env });
    assert.equal(pruned.code, 0, pruned.stderr);
    const plan = (JSON.parse(pruned.stdout) as { mappings: Array<{ kept: Record<string, string[]>; forgotten: string[] }> }).mappings[0]!;
    // Daily: 17 and 16 Nov. Weekly: ISO weeks 47 (17 Nov 18:00) and 46 (9 Nov). Monthly: Nov, Oct (20th), Sep.
    const kept = [1, 3, 6, 7, 9].map((i) => calendar[i]!);
    assert.deepEqual(Object.keys(plan.kept).sort(), kept);
    assert.deepEqual(plan.forgotten, [0, 2, 4, 5, 8].map((i) => calendar[i]!));
    assert.deepEqual(await runIds(sb, 'Work'), kept);
    // What stays is exactly what kept runs need: the version of F that run R saw sits in the
    // folder of the first later run that changed or deleted F, and nothing else is stored.
    const needed = new Set<string>();
    for (const r of snapshots.filter((s) => kept.includes(s.runId))) {
      const at = snapshots.indexOf(r);
      for (const [file, content] of r.tree) {
        const j = snapshots.findIndex((s, k) => k > at && !s.tree.get(file)?.equals(content));
        if (j > 0) needed.add(`${calendar[j]}/Work/${file}`);
      }
    }
    const stored = [...(await readTree(history)).keys()].filter((p) => !p.endsWith('.run.json.gz')).map((p) => p.replace(/^(\d{8}T\d{6}Z)-\d+\//, '$1/'));
    assert.deepEqual(stored.sort(), [...needed].sort());
    assert.ok(stored.length > 0 && stored.length < versionsBefore, `${versionsBefore} versions before the prune, ${stored.length} after`);
    for (const snap of snapshots.filter((s) => kept.includes(s.runId))) {
      const into = path.join(sb.dir, `cal-${snap.runId}`);
      const restored = await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await readTree(path.join(into, 'Work')), snap.tree, `kept run ${snap.runId}`);
    }
  });
});

describe('poof check: a restore drill', () => {
  let sb: Sandbox;
  let dir: string;
  let mirror: string;
  before(async () => {
    sb = await makeSandbox();
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`d${i % 4}/f${i}.txt`] = `file ${i} ${'z'.repeat(i)}\n`;
    const backup = await mapLocalDirs(sb, { Work: files });
    dir = backup.dirs.Work!;
    const { bucket } = JSON.parse(await readFile(backup.paths.poofConf!, 'utf8')) as { bucket: string };
    mirror = path.join(backup.cloud, bucket, 'Work');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeFile(path.join(dir, 'd1/f1.txt'), 'changed after the first run\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeFile(path.join(dir, 'd1/f1.txt'), 'changed after the second run\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
  });
  after(() => sb.cleanup());

  it('passes on an intact remote: a sample by default (different files each time), every file with --full', async () => {
    const sampled = await runPoof(['check', '--json'], { env: sb.env });
    assert.equal(sampled.code, 0, sampled.stdout);
    const first = (JSON.parse(sampled.stdout) as { mappings: Array<{ checked: number; files: number }> }).mappings[0]!;
    assert.deepEqual([first.checked, first.files], [5, 40], 'at least 5 files: 3% of 40 is fewer');
    const full = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(full.code, 0, full.stdout);
    assert.match(full.stdout, /^Work: ok: run \d{8}T\d{6}Z: read back 40 of 40 files \(40 also compared with the unchanged local file\)$/m);
    const older = await runPoof(['check', '--full', '--at', (await runIds(sb, 'Work'))[0]!], { env: sb.env });
    assert.equal(older.code, 0, older.stdout);
    assert.match(older.stdout, /read back 40 of 40 files \(39 also compared/, 'the first run, one file of it from the folder of the second');
  });

  it('finds a flipped byte in a version kept in a run\'s folder (no local file to compare with) by the hash the run recorded; a restore of it refuses', async () => {
    const [, second, third] = await runIds(sb, 'Work');
    const kept = path.join(mirror, '..', '.poof-history', third!, 'Work', 'd1/f1.txt');
    const good = await readFile(kept);
    assert.equal(good.toString(), 'changed after the first run\n', 'the second run\'s version sits in the folder of the third');
    const { stat: statFile, utimes } = await import('node:fs/promises');
    const times = await statFile(kept);
    // Same size, same time: only the content tells.
    await writeFile(kept, Buffer.from(good.toString().replace('first', 'fir5t')));
    await utimes(kept, times.atime, times.mtime);
    try {
      const result = await runPoof(['check', '--full', '--at', second!], { env: sb.env });
      assert.equal(result.code, 4, result.stdout);
      assert.match(result.stdout, /^ {2}d1\/f1\.txt: its content on the remote \(md5 [0-9a-f]{32}\) is not what the run recorded \(md5 [0-9a-f]{32}\): the stored copy is damaged$/m);
      const restore = await runPoof(['restore', '--at', second!, '--to', path.join(sb.dir, 'damaged'), '--yes', 'Work/d1/f1.txt'], { env: sb.env });
      assert.notEqual(restore.code, 0, restore.stdout);
      assert.match(restore.stdout + restore.stderr, /d1\/f1\.txt: its content is not what the run recorded \(md5 differs\)/);
      // In place: refused before anything local moves; the local tree stays as it is, nothing goes to the trash.
      const before = await readTree(dir);
      const inPlace = await runPoof(['restore', '--at', second!, '--yes'], { env: sb.env });
      assert.notEqual(inPlace.code, 0, inPlace.stdout);
      assert.match(inPlace.stdout + inPlace.stderr, /Work: FAILED: what the remote holds is not what the run recorded, so nothing was restored: d1\/f1\.txt/);
      assert.deepEqual(await readTree(dir), before);
      assert.equal((await readTrash(sb.home)).size, 0, 'nothing moved to the trash');
    } finally {
      await writeFile(kept, good);
      await utimes(kept, times.atime, times.mtime);
    }
    assert.equal((await runPoof(['check', '--full', '--at', second!], { env: sb.env })).code, 0);
  });

  it('finds a flipped byte and a deleted object: exit 4, naming each file', async () => {
    const victim = path.join(mirror, 'd2/f10.txt');
    const bytes = await readFile(victim);
    bytes[0] = bytes[0]! ^ 0x01;
    await writeFile(victim, bytes);
    await rm(path.join(mirror, 'd3/f7.txt'));
    const result = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(result.code, 4, result.stdout);
    assert.match(result.stdout, /^Work: FAILED: .*; 2 problems:$/m);
    assert.match(result.stdout, /^ {2}d2\/f10\.txt: differs from the local file, which has not changed since the run: the remote copy is damaged$/m);
    assert.match(result.stdout, /^ {2}d3\/f7\.txt: missing on the remote \(expected in the mirror\)$/m);
    // A scheduled check that finds a problem is seen: in the run history, as a failed run.
    const status = await runPoof(['status', '--json'], { env: sb.env });
    const last = (JSON.parse(status.stdout) as { runs: RunRecordJson[] }).runs.at(-1)!;
    assert.deepEqual([last.command, last.status, last.exitCode, last.mappings[0]!.status, last.mappings[0]!.checked], ['check', 'failed', 4, 'failed', 40]);
    assert.match(last.mappings[0]!.reason!, /^2 problems: d2\/f10\.txt: differs from the local file/);
    assert.match((await runPoof(['status'], { env: sb.env })).stdout, /check {2}failed \(exit 4\): 1 mappings, 40 files read back and compared, .*Work failed/);
  });
});

describe('a file deleted here while the run replaces it on the remote', () => {
  it('leaves the run\'s record, which then restores: the old version is in the run\'s folder, not in the mirror', async () => {
    const sb = await makeSandbox();
    try {
      const files: Record<string, Buffer | string> = { 'zz-last.txt': 'the first version\n' };
      for (let i = 0; i < 20; i++) files[`a${String(i).padStart(2, '0')}.bin`] = Buffer.alloc(100_000, i);
      const { dirs } = await mapLocalDirs(sb, { Work: files });
      const work = dirs.Work!;
      await setConf(sb, (conf) => void (conf.rclone = { transfers: 1 }));
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      for (let i = 0; i < 20; i++) await writeFile(path.join(work, `a${String(i).padStart(2, '0')}.bin`), Buffer.alloc(100_000, 50 + i));
      await writeFile(path.join(work, 'zz-last.txt'), 'the second version, longer\n');
      // 2 MB at 1 MiB/s: rclone has listed zz-last.txt, and reaches it after about 2 s; it is deleted at 0.5 s.
      await setConf(sb, (conf) => void (conf.rclone = { transfers: 1, bwlimit: '1M' }));
      const hooked = await writeHookedRclone(sb.dir, 'sync', `(sleep 0.5; rm -f '${path.join(work, 'zz-last.txt')}') &`);
      const backup = await runPoof(['backup', '--json'], { env: { ...sb.env, POOF_RCLONE: hooked } });
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stderr, /zz-last\.txt: no such file or directory/, 'rclone met the deleted file after moving its old version aside');
      const run = (JSON.parse(backup.stdout) as { runId: string }).runId;
      const restored = await runPoof(['restore', '--at', run, '--to', path.join(sb.dir, 'at'), '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.deepEqual(await readTree(path.join(sb.dir, 'at', 'Work')), await readTree(work));
      const check = await runPoof(['check', '--full'], { env: sb.env });
      assert.equal(check.code, 0, check.stdout + check.stderr);
    } finally {
      await sb.cleanup();
    }
  });
});

describe('links kept as links ("symlinks": "links") on a local-directory remote', () => {
  it('restore --at brings back each run\'s links (to a file, a folder, outside, nowhere) with their times; history counts them, check reads them back, prune deletes their kept versions', async () => {
    const sb = await makeSandbox();
    try {
      const { dirs, cloud } = await mapLocalDirs(sb, { Work: { 'a.txt': 'a\n', 'b.txt': 'b\n', 'sub/s.txt': 's\n' } });
      assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
      await setConf(sb, (conf) => void (conf.keep = { last: 1000 }));
      const work = dirs.Work!;
      await symlink('a.txt', path.join(work, 'to-file'));
      await symlink('sub', path.join(work, 'to-folder'));
      await symlink('/etc/hostname', path.join(work, 'outside'));
      await symlink('nowhere', path.join(work, 'sub', 'broken'));
      const first = await backupRun(sb);
      const runOne = await snapshot(work, first, true);
      // A link pointed elsewhere, one deleted, one added, a file made a link.
      await rm(path.join(work, 'to-file'));
      await symlink('b.txt', path.join(work, 'to-file'));
      await rm(path.join(work, 'outside'));
      await symlink('sub/s.txt', path.join(work, 'new-link'));
      await rm(path.join(work, 'b.txt'));
      await symlink('a.txt', path.join(work, 'b.txt'));
      const second = await backupRun(sb);
      const runTwo = await snapshot(work, second, true);
      const history = JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as { mappings: Array<{ runs: Array<{ added: number; changed: number; deleted: number }> }> };
      assert.deepEqual(history.mappings[0]!.runs.map((r) => [r.added, r.changed, r.deleted]), [[7, 0, 0], [2, 1, 2]], 'links counted: b.txt a file, then a link');
      for (const snap of [runOne, runTwo]) {
        const into = path.join(sb.dir, `at-${snap.runId}`);
        const restored = await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env: sb.env });
        assert.equal(restored.code, 0, restored.stderr);
        assert.deepEqual(await readTree(path.join(into, 'Work'), { links: true }), snap.tree, `run ${snap.runId}, links and all`);
        assert.deepEqual((await snapshot(path.join(into, 'Work'), snap.runId, true)).mtimes, snap.mtimes, `run ${snap.runId}: the links' own times too`);
      }
      // In place: the run before, links and all; what it replaces goes to the trash.
      const inPlace = await runPoof(['restore', '--at', first, '--yes'], { env: sb.env });
      assert.equal(inPlace.code, 0, inPlace.stderr);
      assert.deepEqual(await readTree(work, { links: true }), runOne.tree);
      // One link by its path: its versions, and just it back as the second run had it.
      const versions = JSON.parse((await runPoof(['versions', path.join(work, 'to-file'), '--json'], { env: sb.env })).stdout) as { path: string; versions: Array<{ size: number }> };
      assert.deepEqual([versions.path, versions.versions.map((v) => v.size)], ['to-file.rclonelink', [5, 5]]);
      const one = await runPoof(['restore', '--at', second, path.join(work, 'to-file'), '--yes'], { env: sb.env });
      assert.equal(one.code, 0, one.stderr);
      assert.equal(await readlink(path.join(work, 'to-file')), 'b.txt');
      assert.deepEqual(await readTree(work, { links: true }), new Map([...runOne.tree, ['to-file', Buffer.from('-> b.txt')]]), 'nothing else changed');
      const back = await runPoof(['restore', '--at', first, path.join(work, 'to-file'), '--yes'], { env: sb.env });
      assert.equal(back.code, 0, back.stderr);
      const check = await runPoof(['check', '--full', '--at', first], { env: sb.env });
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /Work: ok: run \S+: read back 7 of 7 files \(7 also compared with the unchanged local file\)/);
      // The mirror holds each link as a file NAME.rclonelink naming where it points, never a real link.
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      const mirror = await readTree(path.join(cloud, bucket, 'Work'), { links: true });
      assert.deepEqual([...mirror.values()].filter((v) => v.toString().startsWith('-> ')), [], 'no real link in the mirror');
      assert.equal(mirror.get('to-folder.rclonelink')?.toString(), 'sub');
      // A stored link damaged (pointed elsewhere, same length, same time): check names it.
      const stored = path.join(cloud, bucket, 'Work', 'to-folder.rclonelink');
      const time = (await lstat(stored)).mtime;
      await writeFile(stored, 'bus');
      await utimes(stored, time, time);
      const damaged = await runPoof(['check', '--full'], { env: sb.env });
      assert.equal(damaged.code, 4, damaged.stdout + damaged.stderr);
      assert.match(damaged.stdout + damaged.stderr, /to-folder\.rclonelink: a link to another place than the local link, which has not changed since the run/);
      // Prune down to the newest run: the first run's kept link goes from the history.
      const kept = path.join(cloud, bucket, '.poof-history', second, 'Work', 'outside.rclonelink');
      assert.equal(await readFile(kept, 'utf8'), '/etc/hostname', 'the replaced link is kept');
      await setConf(sb, (conf) => void (conf.keep = { last: 1 }));
      const pruned = await runPoof(['prune'], { env: sb.env });
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.equal(await lstat(kept).then(() => true, () => false), false, 'pruned');
    } finally {
      await sb.cleanup();
    }
  });

  it('a record written before links were recorded: restore --at leaves the local links as they are', async () => {
    const sb = await makeSandbox();
    try {
      const { dirs, cloud, paths } = await mapLocalDirs(sb, { Work: { 'a.txt': 'a\n' } });
      assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
      await symlink('a.txt', path.join(dirs.Work!, 'link'));
      const run = await backupRun(sb);
      // As an earlier poof wrote it: no links among the files, no mark that they were listed.
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      const record = path.join(cloud, bucket, '.poof-history', run, 'Work.run.json.gz');
      const manifest = JSON.parse(gunzipSync(await readFile(record)).toString()) as { links?: boolean; files: Record<string, unknown> };
      assert.equal(manifest.links, true);
      delete manifest.links;
      delete manifest.files['link.rclonelink'];
      await writeFile(record, gzipSync(JSON.stringify(manifest)));
      // This machine's copy of the records goes too: the record is read from the remote.
      await rm(path.join(paths.stateDir!, 'versions'), { recursive: true });
      // The link points elsewhere now: a record that knew it would put it back.
      await rm(path.join(dirs.Work!, 'link'));
      await symlink('elsewhere', path.join(dirs.Work!, 'link'));
      await writeFile(path.join(dirs.Work!, 'a.txt'), 'changed\n');
      const restored = await runPoof(['restore', '--at', run, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal(await readFile(path.join(dirs.Work!, 'a.txt'), 'utf8'), 'a\n');
      assert.equal(await readlink(path.join(dirs.Work!, 'link')), 'elsewhere', 'the link the record does not know stays as it is');
    } finally {
      await sb.cleanup();
    }
  });

  it('a folder made a link, a link made a folder, a file made a link and a link made a file: each replaced version is kept, nothing outside the mapping changes', async () => {
    const sb = await makeSandbox();
    try {
      const { dirs, cloud } = await mapLocalDirs(sb, { Work: { 'x/f1.txt': 'one\n', 'keep.txt': 'keep\n', 'was-file.txt': 'the file before the link\n' } });
      assert.equal((await runPoof(['config', '--symlinks', 'links', '--force'], { env: sb.env })).code, 0);
      const elsewhere = path.join(sb.dir, 'elsewhere');
      await mkdir(elsewhere);
      const precious = path.join(sb.dir, 'precious.txt');
      await writeFile(precious, 'outside the mapping\n');
      const work = dirs.Work!;
      await symlink(precious, path.join(work, 'was-link'));
      const first = await backupRun(sb);
      await rm(path.join(work, 'x'), { recursive: true });
      await symlink(elsewhere, path.join(work, 'x'));
      await rm(path.join(work, 'was-file.txt'));
      await symlink('keep.txt', path.join(work, 'was-file.txt'));
      await rm(path.join(work, 'was-link'));
      await writeFile(path.join(work, 'was-link'), 'a file now\n');
      const second = await backupRun(sb);
      const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
      const kept = path.join(cloud, bucket, '.poof-history', second, 'Work');
      assert.equal(await readFile(path.join(kept, 'was-file.txt'), 'utf8'), 'the file before the link\n', 'the file a link replaced is kept');
      assert.equal(await readFile(path.join(kept, 'was-link.rclonelink'), 'utf8'), precious, 'the link a file replaced is kept');
      assert.equal(await readFile(precious, 'utf8'), 'outside the mapping\n', 'nothing written through a link');
      await rm(path.join(work, 'x'));
      await mkdir(path.join(work, 'x'));
      await writeFile(path.join(work, 'x', 'f2.txt'), 'two\n');
      const third = await backupRun(sb);
      assert.equal(await readFile(path.join(cloud, bucket, 'Work', 'x', 'f2.txt'), 'utf8'), 'two\n');
      assert.equal(await readFile(path.join(cloud, bucket, '.poof-history', third, 'Work', 'x.rclonelink'), 'utf8'), elsewhere);
      assert.deepEqual([...(await readTree(elsewhere)).keys()], [], 'nothing written through a link');
      const before = await readTree(work, { links: true });
      for (const [run, want] of [[first, { 'x/f1.txt': 'one\n', 'was-file.txt': 'the file before the link\n', 'was-link': `-> ${precious}` }], [second, { x: `-> ${elsewhere}`, 'was-file.txt': '-> keep.txt', 'was-link': 'a file now\n' }]] as const) {
        const into = path.join(sb.dir, `at-${run}`);
        const restored = await runPoof(['restore', '--at', run, '--to', into, '--yes'], { env: sb.env });
        assert.equal(restored.code, 0, restored.stderr);
        assert.deepEqual(Object.fromEntries([...(await readTree(path.join(into, 'Work'), { links: true }))].map(([k, v]) => [k, v.toString()])), { 'keep.txt': 'keep\n', ...want });
      }
      assert.deepEqual(await readTree(work, { links: true }), before);
      assert.equal(await readFile(precious, 'utf8'), 'outside the mapping\n');
    } finally {
      await sb.cleanup();
    }
  });

  /** A mirror as earlier versions of poof left it, links kept as real links (rclone --links on both sides), and poof backing it up since. */
  async function legacyMirror(symlinks: 'links' | 'follow', history: boolean) {
    const sb = await makeSandbox();
    const { dirs, cloud } = await mapLocalDirs(sb, { Work: { 'keep.txt': 'keep\n' } });
    assert.equal((await runPoof(['config', '--symlinks', symlinks, '--force'], { env: sb.env })).code, 0);
    if (!history) await setConf(sb, (conf) => void (conf.history = false));
    const outside = path.join(sb.dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'theirs.txt'), 'a file outside the mapping\n');
    const precious = path.join(sb.dir, 'precious.txt');
    await writeFile(precious, 'outside the mapping\n');
    const work = dirs.Work!;
    await symlink(outside, path.join(work, 'd'));
    await symlink(precious, path.join(work, 'f'));
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    const mirror = path.join(cloud, bucket, 'Work');
    await execFileAsync('rclone', ['sync', '--links', work, mirror]);
    assert.equal(await readlink(path.join(mirror, 'd')), outside, 'a real link in the mirror');
    return { sb, work, mirror, outside, precious, cloud, bucket };
  }

  for (const [symlinks, history] of [['follow', true], ['links', true], ['follow', false]] as const) {
    it(`links an earlier version stored as real links, backed up with "symlinks": "${symlinks}"${history ? '' : ' and history off'}: stored as NAME.rclonelink files first; nothing outside the mapping changes`, async () => {
      const { sb, work, mirror, outside, precious, cloud, bucket } = await legacyMirror(symlinks, history);
      try {
        // The local links made a folder and a file: rclone would write through the stored links, or move the folder's files.
        await rm(path.join(work, 'd'));
        await mkdir(path.join(work, 'd'));
        await writeFile(path.join(work, 'd', 'new.txt'), 'new\n');
        await rm(path.join(work, 'f'));
        await writeFile(path.join(work, 'f'), 'a file now\n');
        const run = await backupRun(sb);
        assert.deepEqual(Object.fromEntries([...(await readTree(outside))].map(([k, v]) => [k, v.toString()])), { 'theirs.txt': 'a file outside the mapping\n' }, 'the folder a stored link pointed to is as it was');
        assert.equal(await readFile(precious, 'utf8'), 'outside the mapping\n');
        assert.deepEqual(await readTree(mirror, { links: true }), await readTree(work, { links: true }));
        if (history) {
          const kept = path.join(cloud, bucket, '.poof-history', run, 'Work');
          assert.deepEqual([await readFile(path.join(kept, 'd.rclonelink'), 'utf8'), await readFile(path.join(kept, 'f.rclonelink'), 'utf8')], [outside, precious], 'the stored links are kept in the run\'s history');
        }
        await writeFile(path.join(work, 'd', 'later.txt'), 'later\n');
        await backupRun(sb);
        assert.deepEqual([...(await readTree(outside)).keys()], ['theirs.txt']);
      } finally {
        await sb.cleanup();
      }
    });
  }

  it('links an earlier version stored as real links: the first download after it keeps the local links, and brings them back to a new laptop', async () => {
    const { sb, work, mirror, outside, precious } = await legacyMirror('links', true);
    try {
      const dry = await runPoof(['download', '--dry-run'], { env: sb.env });
      assert.equal(dry.code, 0, dry.stderr);
      assert.doesNotMatch(dry.stdout, /rclonelink/, 'nothing to restore or delete: the remote holds the links');
      const download = await runPoof(['download', '--yes'], { env: sb.env });
      assert.equal(download.code, 0, download.stderr);
      assert.deepEqual([await readlink(path.join(work, 'd')), await readlink(path.join(work, 'f'))], [outside, precious], 'the local links stay');
      assert.equal(await readFile(path.join(mirror, 'd.rclonelink'), 'utf8'), outside, 'stored as this version stores links');
      await rm(work, { recursive: true });
      const fresh = await runPoof(['download', '--yes'], { env: sb.env });
      assert.equal(fresh.code, 0, fresh.stderr);
      assert.deepEqual([await readlink(path.join(work, 'd')), await readlink(path.join(work, 'f')), await readFile(path.join(work, 'keep.txt'), 'utf8')], [outside, precious, 'keep\n']);
      assert.deepEqual([...(await readTree(outside)).keys()], ['theirs.txt']);
    } finally {
      await sb.cleanup();
    }
  });
});

/** Back up; the run's id. */
async function backupRun(sb: Sandbox): Promise<string> {
  const backup = await runPoof(['backup', '--json'], { env: sb.env });
  assert.equal(backup.code, 0, backup.stderr);
  return (JSON.parse(backup.stdout) as { runId: string }).runId;
}
