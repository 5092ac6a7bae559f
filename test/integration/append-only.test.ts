import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startPoof } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, setConf, type Sandbox } from '../helpers/sandbox.js';
import { seeded } from '../helpers/seeded.js';
import { startS3, startSshd, type RunningServer, type SshServer } from '../helpers/servers.js';
import { sftpWriterForceCommand, sftpWriterSetup, vaultPathIn } from '../../src/vault/setup-help.js';
import { readTree } from '../helpers/tree.js';
import { assertEachRestores, changeRound, newestCompleteRun, propertyCheck, rcloneOut, snapshot, type History, type Snapshot } from '../helpers/versions.js';

/** Every file below a directory of the storage's own disk: size, time, inode and content hash. */
async function storageSnapshot(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else {
        const info = await stat(full, { bigint: true });
        const hash = createHash('sha256').update(await readFile(full)).digest('hex');
        out.set(path.relative(root, full), `${info.size} ${info.mtimeNs} ${info.ino} ${hash}`);
      }
    }
  };
  await walk(root);
  return out;
}

/** Nothing the storage held before is changed or gone: a run only ever added. */
function assertOnlyAdded(before: Map<string, string>, now: Map<string, string>, what: string): void {
  for (const [file, state] of before) assert.equal(now.get(file), state, `${what}: ${file} is unchanged`);
}

const appendOnly = (sb: Sandbox) => setConf(sb, (conf) => void (conf.mode = 'append-only'));

/**
 * A mapping Work holding `files`, backed up append-only to a local-directory cloud, with the
 * administrator's remote beside it: the same storage, another section (on a server, another key).
 */
async function appendOnlyWithAdmin(sb: Sandbox, files: Record<string, string>): Promise<{ dir: string; cloud: string; vault: string }> {
  const made = await mapLocalDirs(sb, { Work: files });
  await appendOnly(sb);
  const conf = path.join(sb.confdir, 'rclone-poof.conf');
  await writeFile(conf, `${await readFile(conf, 'utf8')}\n[poof-admin]\ntype = alias\nremote = ${made.cloud}\n`);
  const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
  return { dir: made.dirs.Work!, cloud: made.cloud, vault: path.join(made.cloud, bucket, '.poof-vault') };
}

/** A record written straight into the vault, as anyone holding the backup's key could. */
async function plantRecord(vault: string, runId: string, files: Record<string, unknown>): Promise<void> {
  const record = { format: 1, runId, mapping: 'Work', status: 'complete', started: '', ended: '', command: 'backup', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, files };
  await writeFile(path.join(vault, 'runs', `${runId}.Work.run.json.gz`), gzipSync(JSON.stringify(record)));
}

describe('append-only backups on a local-directory remote', () => {
  let sb: Sandbox;
  let dir: string;
  let cloud: string;
  before(async () => {
    sb = await makeSandbox();
    const made = await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n', 'same-a.txt': 'twin\n', 'same-b.txt': 'twin\n' } });
    dir = made.dirs.Work!;
    cloud = made.cloud;
    await appendOnly(sb);
  });
  after(() => sb.cleanup());

  it('20 seeded runs of edits, deletes, renames and adds: each comes back byte for byte with its times, and no run changed or removed anything already stored', async () => {
    let stored = new Map<string, string>();
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 16), true, {
      before: async () => void (stored = await storageSnapshot(cloud)),
      after: async (step) => assertOnlyAdded(stored, await storageSnapshot(cloud), `run ${step}`),
    });
    const names = [...(await storageSnapshot(cloud)).keys()];
    assert.ok(names.every((name) => /^[^/]+\/\.poof-vault\/(data\/[0-9a-f]{2}\/[0-9a-f]{64}(\.\d{8}T\d{6}Z)?|runs\/\d{8}T\d{6}Z\.Work\.run\.json\.gz)$/.test(name)), `only objects and records: ${names.join(', ')}`);
  });

  it('a no-change run writes nothing; content already stored (a copy, a rename) is not sent again', async () => {
    const before = await storageSnapshot(cloud);
    const same = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(same.code, 0, same.stderr);
    assert.equal((JSON.parse(same.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]!.copied, 0);
    assert.deepEqual(await storageSnapshot(cloud), before, 'nothing written');
    const [first] = [...(await readTree(dir)).keys()].sort();
    await writeFile(path.join(dir, 'copy-of-first'), await readFile(path.join(dir, first!)));
    const copied = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal((JSON.parse(copied.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]!.copied, 0, 'the content was stored already');
    const added = [...(await storageSnapshot(cloud)).keys()].filter((name) => !before.has(name));
    assert.equal(added.length, 1, `only the run's record: ${added.join(', ')}`);
    assert.match(added[0]!, /\/runs\//);
  });

  it('an object of the right name but other content (a killed upload, or planted) is never used or replaced: the content goes under a name of its own', async () => {
    const content = Buffer.from('the real content of report.txt\n');
    const sha = createHash('sha256').update(content).digest('hex');
    const bucket = (await readdir(cloud))[0]!;
    const planted = path.join(cloud, bucket, '.poof-vault', 'data', sha.slice(0, 2), sha);
    await mkdir(path.dirname(planted), { recursive: true });
    await writeFile(planted, Buffer.alloc(content.length, 'x'));
    await writeFile(path.join(dir, 'report.txt'), content);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    assert.deepEqual(await readFile(planted), Buffer.alloc(content.length, 'x'), 'the planted object is left as it was');
    const runId = (JSON.parse(backup.stdout) as { runId: string }).runId;
    assert.deepEqual(await readFile(path.join(cloud, bucket, '.poof-vault', 'data', sha.slice(0, 2), `${sha}.${runId}`)), content);
    const into = path.join(sb.dir, 'planted-restore');
    const restored = await runPoof(['restore', '--at', runId, '--to', into, '--yes', 'Work/report.txt'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readFile(path.join(into, 'Work', 'report.txt')), content);
  });

  it('poof versions lists each state of a file from the runs that recorded it', async () => {
    await writeFile(path.join(dir, 'report.txt'), 'second state\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    const versions = await runPoof(['versions', 'Work/report.txt', '--json'], { env: sb.env });
    assert.equal(versions.code, 0, versions.stderr);
    const listed = (JSON.parse(versions.stdout) as { versions: Array<{ size: number; since?: string; replacedBy?: string }> }).versions;
    assert.deepEqual(listed.map((v) => v.size), [13, 31]);
    assert.equal(listed[0]!.replacedBy, undefined);
    assert.equal(listed[1]!.replacedBy, listed[0]!.since);
  });

  it('poof check reads a run back and compares each file with its hash; a damaged or missing object fails it (exit 4), naming the file', async () => {
    const full = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(full.code, 0, full.stdout + full.stderr);
    assert.match(full.stdout, /^Work: ok: run \d{8}T\d{6}Z: read back (\d+) of \1 files/);
    const bucket = (await readdir(cloud))[0]!;
    const record = JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History;
    const newest = record.mappings[0]!.runs.at(-1)!.id;
    const files = (await readTree(dir));
    const [damaged, missing] = [...files.keys()].filter((rel) => rel !== 'same-a.txt' && rel !== 'same-b.txt').sort();
    const object = (rel: string) => {
      const sha = createHash('sha256').update(files.get(rel)!).digest('hex');
      return path.join(cloud, bucket, '.poof-vault', 'data', sha.slice(0, 2), sha);
    };
    const damagedObject = object(damaged!);
    const kept = await readFile(damagedObject);
    await writeFile(damagedObject, Buffer.alloc(kept.length, 'z'));
    const missingObject = object(missing!);
    const keptMissing = await readFile(missingObject);
    await rm(missingObject);
    const bad = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(bad.code, 4, bad.stdout + bad.stderr);
    assert.match(bad.stdout, new RegExp(`^Work: FAILED: run ${newest}: read back`, 'm'));
    assert.match(bad.stdout, new RegExp(`^  ${damaged!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: its content on the remote \\(sha256 [0-9a-f]{64}\\) is not what the run recorded`, 'm'));
    assert.match(bad.stdout, new RegExp(`^  ${missing!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: missing on the remote \\(expected as object [0-9a-f]{2}/[0-9a-f]{64}\\)`, 'm'));
    // A restore needing the missing object stops before anything is placed, and says why.
    const into = path.join(sb.dir, 'missing-object');
    const restore = await runPoof(['restore', '--at', newest, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restore.code, 1, restore.stderr);
    assert.match(restore.stdout + restore.stderr, new RegExp(`its object [0-9a-f]{2}/[0-9a-f]{64} is missing on the remote`));
    assert.doesNotMatch(restore.stderr, /bug in poof/);
    const placed = [...(await readTree(path.join(into, 'Work')).catch(() => new Map<string, Buffer>())).keys()].filter((rel) => !rel.startsWith('.poof-restore-'));
    assert.deepEqual(placed, [], 'nothing placed');
    await writeFile(damagedObject, kept);
    await writeFile(missingObject, keptMissing);
  });

  it('a run restored comes back with its times to the millisecond: a second restore finds nothing to replace', async () => {
    const into = path.join(sb.dir, 'twice');
    const newest = await newestCompleteRun(sb);
    const first = await runPoof(['restore', '--at', newest, '--to', into, '--yes'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
    const again = await runPoof(['restore', '--at', newest, '--to', into, '--dry-run', '--json'], { env: sb.env });
    const plan = (JSON.parse(again.stdout) as { mappings: Array<{ changes: { restore: unknown[]; replace: unknown[]; remove: unknown[] } }> }).mappings[0]!.changes;
    assert.deepEqual([plan.restore.length, plan.replace.length, plan.remove.length], [0, 0, 0]);
  });

  it('a record planted with the backup\'s key (a path out of the mapping, objects of other content, dated 2099) is never restored from or built on', async () => {
    const bucket = (await readdir(cloud))[0]!;
    const vault = path.join(cloud, bucket, '.poof-vault');
    const victim = path.join(sb.dir, 'victim.txt');
    await writeFile(victim, 'mine\n');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    // An object of the backup's own: another content, under a name a record can point at.
    const [someObject] = (await readdir(path.join(vault, 'data'), { recursive: true })).map(String).filter((f) => /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(f));
    await plantRecord(vault, '20990101T000000Z', { '../../victim.txt': { size: 5, mtime: 1, sha256: sha('evil\n') } });
    const escaped = await runPoof(['restore', '--at', '20990101T000000Z', '--to', path.join(sb.dir, 'planted'), '--yes'], { env: sb.env });
    assert.notEqual(escaped.code, 0);
    assert.equal(await readFile(victim, 'utf8'), 'mine\n', 'nothing outside the restored directory is touched');
    // A run that names, for a content, an object holding another one: read by history, then a backup.
    const wanted = 'a content the next backup has\n';
    await plantRecord(vault, '20991231T000000Z', { 'x.txt': { size: wanted.length, mtime: 1, sha256: sha(wanted), object: `${sha(wanted)}.20991231T000000Z` }, 'y.txt': { size: 1, mtime: 1, sha256: someObject!.slice(3) } });
    const history = await runPoof(['history', '--json'], { env: sb.env });
    assert.equal(history.code, 0, history.stderr);
    await writeFile(path.join(dir, 'wanted.txt'), wanted);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const runId = (JSON.parse(backup.stdout) as { runId: string }).runId;
    assert.ok(runId < '2027', `the run's id follows this machine's clock, not a planted record: ${runId}`);
    const check = await runPoof(['check', '--full', '--at', runId], { env: sb.env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const download = await runPoof(['download', '--to', path.join(sb.dir, 'newest'), '--yes'], { env: sb.env });
    assert.equal(download.code, 0, download.stderr);
    assert.match(download.stdout, new RegExp(`as after run ${runId}`), 'download restores the newest run at or before now, not one dated 2099');
    assert.deepEqual(await readTree(path.join(sb.dir, 'newest', 'Work')), await readTree(dir));
    for (const id of ['20990101T000000Z', '20991231T000000Z']) await rm(path.join(vault, 'runs', `${id}.Work.run.json.gz`));
  });

  it('upload refuses, naming the mode, and changes nothing', async () => {
    const before = await storageSnapshot(cloud);
    for (const command of ['upload']) {
      const refused = await runPoof([command], { env: sb.env });
      assert.equal(refused.code, 2, `${command}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`^poof: poof ${command} does not work on an append-only backup \\("mode": "append-only" in poof\\.conf\\)`));
    }
    assert.deepEqual(await storageSnapshot(cloud), before);
    assert.ok((await readTree(dir)).size > 0, 'nothing local was wiped');
  });

  it('poof verify fails on a local directory, whose key can delete and overwrite anything, and says so; in mirror mode it says it plainly', async () => {
    const verify = await runPoof(['verify'], { env: sb.env });
    assert.equal(verify.code, 4, verify.stdout);
    assert.match(verify.stdout, /FAIL {2}protection: append-only, but this key can delete and overwrite your backups: the storage let it delete and overwrite \S+\/\.poof-vault\/runs\/\.poof-canary/);
    assert.match(verify.stdout, /ok {2}history: append-only: \d+ runs stored/);
    const help = await runPoof(['cconfig', '--append-only-help'], { env: sb.env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^A local directory cannot refuse this machine anything/);
    await setConf(sb, (conf) => void (conf.mode = 'mirror'));
    const mirror = await runPoof(['verify', '--json'], { env: sb.env });
    const protection = (JSON.parse(mirror.stdout) as { checks: Array<{ id: string; status: string; detail: string }> }).checks.find((c) => c.id === 'protection')!;
    assert.match(protection.detail, /^mirror: this machine's key can delete or overwrite everything on the remote, history included/);
    await appendOnly(sb);
  });

  it('links kept as links are refused in append-only mode, naming the field', async () => {
    await setConf(sb, (conf) => void (conf.symlinks = 'links'));
    const refused = await runPoof(['backup'], { env: sb.env });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /poof\.conf: symlinks is "links", which append-only mode does not keep \(fix: use "follow" \(the default\) or "skip" with "mode": "append-only"\)/);
    await setConf(sb, (conf) => void delete conf.symlinks);
  });
});

describe('poof prune of an append-only backup, with a key that can delete', () => {
  let sb: Sandbox;
  let dir: string;
  let objects: string;
  before(async () => {
    sb = await makeSandbox();
    const made = await appendOnlyWithAdmin(sb, { 'kept.txt': 'in every run\n', 'old.txt': 'only in the first runs\n' });
    dir = made.dir;
    objects = path.join(made.vault, 'data');
  });
  after(() => sb.cleanup());

  it('refuses without a key that can delete, with the backup\'s own remote, and without "within"', async () => {
    const none = await runPoof(['prune'], { env: sb.env });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^poof: an append-only backup is pruned with a key that can delete, which this machine's backups must not use: no --remote and no "pruneRemote" in poof\.conf/);
    const own = await runPoof(['prune', '--remote', 'poof-backup'], { env: sb.env });
    assert.equal(own.code, 2);
    assert.match(own.stderr, /--remote "poof-backup" is the backup's own remote/);
    const noWithin = await runPoof(['prune', '--remote', 'poof-admin'], { env: sb.env });
    assert.equal(noWithin.code, 2);
    assert.match(noWithin.stderr, /an append-only prune keeps runs by age: poof\.conf has no "keep": \{"within": \.\.\.\}/);
  });

  it('removes the runs older than "within" and the objects only they name; an object no record names waits a week; every kept run restores byte for byte', async () => {
    const backup = async () => {
      const result = await runPoof(['backup', '--json'], { env: sb.env });
      assert.equal(result.code, 0, result.stderr);
      return { runId: (JSON.parse(result.stdout) as { runId: string }).runId, tree: await readTree(dir) };
    };
    const first = await backup();
    await writeFile(path.join(dir, 'old.txt'), 'only in the first runs, changed\n');
    const second = await backup();
    await rm(path.join(dir, 'old.txt'));
    await new Promise((r) => setTimeout(r, 9_000));
    await writeFile(path.join(dir, 'new.txt'), 'recent\n');
    const third = await backup();
    await writeFile(path.join(dir, 'new.txt'), 'recent, changed\n');
    const fourth = await backup();
    // A leftover no record names (a killed run's), and the object only the first two runs name.
    const leftover = path.join(objects, 'ab', `${'ab'.repeat(32)}`);
    await mkdir(path.dirname(leftover), { recursive: true });
    await writeFile(leftover, 'left by a killed run\n');
    const oldObject = createHash('sha256').update('only in the first runs\n').digest('hex');
    await setConf(sb, (conf) => Object.assign(conf, { keep: { within: '8s' }, pruneRemote: 'poof-admin' }));
    const dry = await runPoof(['prune', '--dry-run'], { env: sb.env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^Work: would remove 1 run \\(${first.runId}\\); 3 runs kept$`, 'm'));
    const pruned = await runPoof(['prune', '--json'], { env: sb.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    const report = JSON.parse(pruned.stdout) as { expired: Record<string, string[]>; kept: Record<string, string[]>; objects: number; waiting: number };
    // The second run is the tree at the start of the window: it stays.
    assert.deepEqual(report.expired.Work, [first.runId]);
    assert.deepEqual(report.kept.Work, [second.runId, third.runId, fourth.runId]);
    assert.equal(report.objects, 1, 'the first version of old.txt');
    assert.equal(report.waiting, 1);
    await assert.rejects(stat(path.join(objects, oldObject.slice(0, 2), oldObject)));
    assert.equal(await readFile(leftover, 'utf8'), 'left by a killed run\n', 'not yet: a backup may be sending it');
    const history = JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History;
    assert.deepEqual(history.mappings[0]!.runs.map((r) => r.id), [second.runId, third.runId, fourth.runId]);
    for (const run of [second, third, fourth]) {
      const into = path.join(sb.dir, `kept-${run.runId}`);
      const restored = await runPoof(['restore', '--at', run.runId, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(await readTree(path.join(into, 'Work')), run.tree);
    }
    // A week later (as the prune's own record of when it first saw the leftover says), it goes.
    const seenDir = path.join(JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout).stateDir as string, 'vault-unnamed');
    for (const file of await readdir(seenDir)) {
      const seen = JSON.parse(await readFile(path.join(seenDir, file), 'utf8')) as Record<string, string>;
      for (const key of Object.keys(seen)) seen[key] = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
      await writeFile(path.join(seenDir, file), JSON.stringify(seen));
    }
    await setConf(sb, (conf) => Object.assign(conf, { keep: { within: '1h' } }));
    const later = await runPoof(['prune'], { env: sb.env });
    assert.equal(later.code, 0, later.stderr);
    assert.match(later.stdout, /^Work: removed 0 runs; 3 runs kept\nobjects: removed 1 no kept run needs \(21 B freed\)$/m);
    await assert.rejects(stat(leftover));
  });
});

describe('an append-only backup after a prune removed the run it built on (a newer record, here planted, made it expire)', () => {
  let sb: Sandbox;
  let dir: string;
  let vault: string;
  before(async () => {
    sb = await makeSandbox();
    ({ dir, vault } = await appendOnlyWithAdmin(sb, { 'a.txt': 'alpha\n', 'b.txt': 'beta\n' }));
  });
  after(() => sb.cleanup());

  it('stores its files again instead of naming the objects the prune removed: check and restore stay whole', async () => {
    const first = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
    const runId = (JSON.parse(first.stdout) as { runId: string }).runId;
    const later = new Date(Date.parse(`${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}T${runId.slice(9, 11)}:${runId.slice(11, 13)}:${runId.slice(13, 15)}Z`) + 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    await plantRecord(vault, later, {});
    await setConf(sb, (conf) => Object.assign(conf, { keep: { within: '3s' }, pruneRemote: 'poof-admin' }));
    await new Promise((r) => setTimeout(r, 5_000));
    const pruned = await runPoof(['prune', '--json'], { env: sb.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual((JSON.parse(pruned.stdout) as { expired: Record<string, string[]> }).expired.Work, [runId]);
    const again = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(again.code, 0, again.stderr);
    const mapping = (JSON.parse(again.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]!;
    assert.equal(mapping.copied, 2, 'both contents stored again');
    const check = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const into = path.join(sb.dir, 'after-prune');
    const download = await runPoof(['download', '--to', into, '--yes'], { env: sb.env });
    assert.equal(download.code, 0, download.stderr);
    assert.deepEqual(await readTree(path.join(into, 'Work')), await readTree(dir));
  });
});

describe('append-only backups killed at seeded random moments', () => {
  let sb: Sandbox;
  let dir: string;
  let cloud: string;
  before(async () => {
    sb = await makeSandbox();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 12; i++) files[`f${i}.bin`] = Buffer.alloc(60_000 + i * 1000, 7 + i);
    const made = await mapLocalDirs(sb, { Work: files });
    dir = made.dirs.Work!;
    cloud = made.cloud;
    await appendOnly(sb);
  });
  after(() => sb.cleanup());

  it('6 backups killed (SIGINT, SIGTERM, SIGKILL to the group), each followed by one that finishes: nothing stored is ever changed, and every run comes back byte for byte', async () => {
    const seed = Number(process.env.POOF_TEST_SEED ?? 41);
    const random = seeded(seed);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
    const first = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
    const snapshots: Snapshot[] = [await snapshot(dir, (JSON.parse(first.stdout) as { runId: string }).runId)];
    for (let round = 0; round < 6; round++) {
      await changeRound(dir, random, round);
      await setConf(sb, (conf) => void (conf.rclone = { bwlimit: '300k' }));
      const stored = await storageSnapshot(cloud);
      const signal = signals[round % 3]!;
      const killed = startPoof(['backup'], sb.env);
      await new Promise((r) => setTimeout(r, 300 + Math.floor(random() * 1_500)));
      try {
        process.kill(-killed.pid, signal);
      } catch {
        // It finished first: the checks hold all the same.
      }
      const end = await killed.exit;
      if (signal !== 'SIGKILL' && end.code !== 0) assert.equal(end.code, signal === 'SIGINT' ? 130 : 143, `seed ${seed} round ${round}: ${killed.stderr()}`);
      const afterKill = await storageSnapshot(cloud);
      assertOnlyAdded(stored, afterKill, `seed ${seed} round ${round}, killed by ${signal}`);
      await setConf(sb, (conf) => void delete conf.rclone);
      const again = await runPoof(['backup'], { env: sb.env });
      assert.equal(again.code, 0, `seed ${seed} round ${round}: ${again.stderr}`);
      assertOnlyAdded(afterKill, await storageSnapshot(cloud), `seed ${seed} round ${round}, the run after the kill`);
      const newest = await newestCompleteRun(sb);
      assert.ok(!snapshots.some((s) => s.runId === newest), `seed ${seed} round ${round}: the round's changes are a run of their own`);
      snapshots.push(await snapshot(dir, newest));
    }
    await assertEachRestores(sb, snapshots, seed);
  });
});

describe('append-only backups through crypt', () => {
  let sb: Sandbox;
  let dir: string;
  let cloud: string;
  before(async () => {
    sb = await makeSandbox();
    const made = await mapLocalDirs(sb, { Work: { 'secret plan.txt': 'the plan\n' } });
    dir = made.dirs.Work!;
    cloud = made.cloud;
    const crypt = await runPoof(['cconfig', '--crypt'], { env: sb.env });
    assert.equal(crypt.code, 0, crypt.stderr);
    await appendOnly(sb);
  });
  after(() => sb.cleanup());

  it('5 seeded runs: objects and records are encrypted (no name, hash or content in the clear), each run comes back byte for byte, and poof check reads them back', async () => {
    let stored = new Map<string, string>();
    await propertyCheck(sb, dir, 'Work', 5, Number(process.env.POOF_TEST_SEED ?? 19), true, {
      before: async () => void (stored = await storageSnapshot(cloud)),
      after: async (step) => assertOnlyAdded(stored, await storageSnapshot(cloud), `run ${step}`),
    });
    const names = [...(await storageSnapshot(cloud)).keys()].join('\n');
    assert.doesNotMatch(names, /poof-vault|run\.json|[0-9a-f]{64}|Work/);
    const check = await runPoof(['check', '--full'], { env: sb.env });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
});

describe('append-only backups on S3 (s3rver), which enforces nothing', () => {
  let sb: Sandbox;
  let s3: RunningServer;
  let dir: string;
  let data: string;
  before(async () => {
    sb = await makeSandbox();
    dir = (await mapLocalDirs(sb, { Work: { 'notes.txt': 'first notes\n' } })).dirs.Work!;
    data = path.join(sb.dir, 's3data');
    s3 = await startS3(data);
    const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER', '--force'], { env: { ...sb.env, POOF_SECRET: 'S3RVER' } });
    assert.equal(made.code, 0, made.stderr);
    await appendOnly(sb);
  });
  after(async () => {
    await s3.stop();
    await sb.cleanup();
  });

  it('20 seeded runs: each comes back byte for byte with its times, and no object the server held was changed or removed', async () => {
    let stored = new Map<string, string>();
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 17), true, {
      before: async () => void (stored = await storageSnapshot(data)),
      after: async (step) => assertOnlyAdded(stored, await storageSnapshot(data), `run ${step}`),
    });
  });

  it('poof verify fails: this key can delete and overwrite, and the bucket keeps no versions', async () => {
    const verify = await runPoof(['verify'], { env: { ...sb.env, POOF_SECRET: 'S3RVER' } });
    assert.equal(verify.code, 4, verify.stdout);
    assert.match(verify.stdout, /FAIL {2}protection: append-only, but this key can delete and overwrite your backups/);
  });
});

/**
 * OpenSSH with a write-only user (as root: never skipped; without root it fails and says why),
 * a mapping "Work" holding `files`, poof configured for the writer (`extra`: more cconfig flags)
 * in append-only mode.
 */
async function writerSandbox(writer: string, files: Record<string, string>, extra: string[] = []): Promise<{ sb: Sandbox; sshd: SshServer; dir: string; root: string }> {
  if (process.getuid?.() !== 0) throw new Error(`the write-only SFTP user (${writer}) needs sshd started by root: run the tests as root, as .ci/run does`);
  const sb = await makeSandbox();
  const root = path.join(sb.dir, 'sshd-root');
  const sshd = await startSshd(root, { writeOnly: { user: writer, forceCommand: (start) => sftpWriterForceCommand(start) } });
  const dir = (await mapLocalDirs(sb, { Work: files })).dirs.Work!;
  const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', writer, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none', '--force', ...extra], { env: sb.env });
  assert.equal(made.code, 0, made.stderr);
  await appendOnly(sb);
  return { sb, sshd, dir, root };
}

describe('append-only backups to OpenSSH, as a writer that may only add files (set up as poof prints it)', () => {
  let sb: Sandbox;
  let sshd: SshServer;
  let dir: string;
  let vault: string;
  const writer = 'nobody';
  before(async () => {
    let root: string;
    ({ sb, sshd, dir, root } = await writerSandbox(writer, { 'notes.txt': 'first notes\n' }));
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    vault = vaultPathIn(bucket);
    // The administrator's part, as printed: the folders the writer writes into, made beforehand.
    const commands = sftpWriterSetup(writer, vault).filter((line) => line.startsWith('mkdir '));
    assert.equal(commands.length, 1);
    await run('bash', ['-c', commands[0]!], root);
  });
  after(async () => {
    await sshd.stop();
    await sb.cleanup();
  });

  it('20 seeded runs succeed and each comes back byte for byte with its times; nothing stored changes', async () => {
    let stored = new Map<string, string>();
    await propertyCheck(sb, dir, 'Work', 20, Number(process.env.POOF_TEST_SEED ?? 18), true, {
      before: async () => void (stored = await storageSnapshot(sshd.root)),
      after: async (step) => assertOnlyAdded(stored, await storageSnapshot(sshd.root), `run ${step}`),
    });
  });

  it('poof verify says the writer\'s key cannot delete or overwrite, and that the administrator\'s (a normal SFTP user) can', async () => {
    const cconfig = (user: string) => runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none', '--force'], { env: sb.env });
    const writerVerify = await runPoof(['verify'], { env: sb.env });
    assert.equal(writerVerify.code, 0, writerVerify.stdout);
    assert.match(writerVerify.stdout, /ok {2}protection: append-only: this key cannot delete or overwrite your backups \(the storage refused both on \S+\/\.poof-vault\/runs\/\.poof-canary\)/);
    const help = await runPoof(['cconfig', '--append-only-help'], { env: sb.env });
    assert.deepEqual(help.stdout.trim().split('\n'), sftpWriterSetup(writer, vault));
    assert.equal((await cconfig(sshd.user)).code, 0);
    const adminVerify = await runPoof(['verify'], { env: sb.env });
    assert.equal(adminVerify.code, 4, adminVerify.stdout);
    assert.match(adminVerify.stdout, /FAIL {2}protection: append-only, but this key can delete and overwrite your backups/);
    assert.equal((await cconfig(writer)).code, 0);
  });

  it('poof prune with the administrator\'s key removes the expired runs on the server; every kept run restores, the newest byte for byte', async () => {
    const conf = path.join(sb.confdir, 'rclone-poof.conf');
    await writeFile(conf, `${await readFile(conf, 'utf8')}\n[poof-admin]\ntype = sftp\nhost = 127.0.0.1\nport = ${sshd.port}\nuser = ${sshd.user}\nkey_file = ${sshd.clientKey}\nknown_hosts_file = ${sshd.knownHosts}\nshell_type = none\n`);
    await setConf(sb, (c) => Object.assign(c, { keep: { within: '20s' }, pruneRemote: 'poof-backup' }));
    const own = await runPoof(['prune'], { env: sb.env });
    assert.equal(own.code, 2, own.stderr);
    await setConf(sb, (c) => Object.assign(c, { pruneRemote: 'poof-admin' }));
    const before = (JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History).mappings[0]!.runs.map((r) => r.id);
    const pruned = await runPoof(['prune', '--json'], { env: sb.env });
    assert.equal(pruned.code, 0, pruned.stderr);
    const report = JSON.parse(pruned.stdout) as { expired: Record<string, string[]>; kept: Record<string, string[]> };
    assert.ok(report.expired.Work!.length > 0 && report.kept.Work!.length > 0, pruned.stdout);
    assert.deepEqual([...report.expired.Work!, ...report.kept.Work!].sort(), before);
    const left = await storageSnapshot(sshd.root);
    for (const id of report.expired.Work!) assert.ok(![...left.keys()].some((name) => name.endsWith(`/runs/${id}.Work.run.json.gz`)), `${id}'s record is gone from the server`);
    assert.deepEqual((JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History).mappings[0]!.runs.map((r) => r.id), report.kept.Work);
    for (const id of report.kept.Work!) {
      const into = path.join(sb.dir, `kept-${id}`);
      const restored = await runPoof(['restore', '--at', id, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, `${id}: ${restored.stderr}`);
      if (id === report.kept.Work!.at(-1)) assert.deepEqual(await readTree(path.join(into, 'Work')), await readTree(dir));
    }
  });

  it('with the writer\'s key, plain rclone and plain sftp can neither delete, rename nor overwrite a stored object: the server refuses', async () => {
    const before = await storageSnapshot(sshd.root);
    const object = [...before.keys()].find((name) => name.includes('/data/'))!;
    const remote = `poof-backup:${object}`;
    const elsewhere = path.join(sb.dir, 'other-content');
    await writeFile(elsewhere, 'other content\n');
    // The key and the path are right: reading is allowed.
    assert.equal(createHash('sha256').update(await rcloneBytes(sb, ['cat', remote])).digest('hex'), path.basename(object).slice(0, 64));
    for (const args of [['deletefile', remote], ['moveto', remote, `${remote}.moved`], ['copyto', elsewhere, remote, '--ignore-times', '--sftp-set-modtime=false'], ['purge', `poof-backup:${vault}/runs`]]) {
      await assert.rejects(rcloneOut(sb, args), /permission denied/i, `rclone ${args.join(' ')} is refused by the server`);
    }
    const sftp = (commands: string) => run('sftp', ['-b', '-', '-i', sshd.clientKey, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-P', String(sshd.port), `${writer}@127.0.0.1`], sb.dir, commands);
    for (const command of [`rm ${object}`, `rename ${object} ${object}.x`, `put ${elsewhere} ${object}`, `chmod 666 ${object}`]) {
      await assert.rejects(sftp(`${command}\n`), /exited 1: .*(Permission denied|Couldn't)/s, `sftp ${command} is refused by the server`);
    }
    // rclone 1.63+ sends an overwrite through a new ".partial" file and a rename: the file stays, as junk; the object does not change.
    assertOnlyAdded(before, await storageSnapshot(sshd.root), 'with the writer\'s key');
  });
});

describe('append-only through crypt to OpenSSH, as a writer that may only add files (the encrypted folders made as poof prints them)', () => {
  let sb: Sandbox;
  let sshd: SshServer;
  let dir: string;
  const writer = 'nobody';
  before(async () => {
    let root: string;
    ({ sb, sshd, dir, root } = await writerSandbox(writer, { 'secret plan.txt': 'the plan\n' }, ['--crypt']));
    const help = await runPoof(['cconfig', '--append-only-help'], { env: sb.env });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /the names are the crypt remote's/);
    const commands = help.stdout.split('\n').filter((line) => line.startsWith('mkdir '));
    assert.equal(commands.length, 1);
    // Whole names only: an encrypted name (26+ letters of base32) may hold "data" or "runs" by chance.
    assert.doesNotMatch(commands[0]!, /(^|[/' ])(poof-vault|runs|data)([/' ]|$)/, 'the folders have their encrypted names');
    await run('bash', ['-c', commands[0]!], root);
  });
  after(async () => {
    await sshd?.stop();
    await sb?.cleanup();
  });

  it('5 seeded runs succeed and each comes back byte for byte; nothing stored changes; no name in the clear; verify: the key cannot delete', async () => {
    let stored = new Map<string, string>();
    await propertyCheck(sb, dir, 'Work', 5, Number(process.env.POOF_TEST_SEED ?? 21), true, {
      before: async () => void (stored = await storageSnapshot(sshd.root)),
      after: async (step) => assertOnlyAdded(stored, await storageSnapshot(sshd.root), `run ${step}`),
    });
    const names = [...(await storageSnapshot(sshd.root)).keys()].join('\n');
    assert.doesNotMatch(names, /(^|\/)(poof-vault|run\.json|[0-9a-f]{64}|Work|secret plan)/m);
    const verify = await runPoof(['verify'], { env: sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /ok {2}protection: append-only: this key cannot delete or overwrite your backups/);
  });
});

/** `rclone ARGS` with poof's rclone config: its stdout as bytes. */
function rcloneBytes(sb: Sandbox, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('rclone', [...args, '--config', path.join(sb.confdir, 'rclone-poof.conf')], { env: sb.env });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`rclone ${args.join(' ')} exited ${code}`))));
  });
}

/** Run a program; rejects when it exits non-zero. */
function run(command: string, args: string[], cwd: string, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}: ${out}`))));
    child.stdin.end(input ?? '');
  });
}
