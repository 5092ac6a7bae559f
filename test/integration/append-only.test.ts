import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPoof } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { seeded } from '../helpers/seeded.js';
import { startS3, type RunningServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';
import { propertyCheck, snapshot, type History, type Snapshot } from '../helpers/versions.js';

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

async function setConf(sb: Sandbox, change: (conf: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(sb.confdir, 'poof.conf');
  const conf = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  change(conf);
  await writeFile(file, JSON.stringify(conf));
}

const appendOnly = (sb: Sandbox) => setConf(sb, (conf) => void (conf.mode = 'append-only'));

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

  it('upload, prune and check refuse, naming the mode, and change nothing', async () => {
    const before = await storageSnapshot(cloud);
    for (const command of ['upload', 'prune', 'check']) {
      const refused = await runPoof([command], { env: sb.env });
      assert.equal(refused.code, 2, `${command}: ${refused.stderr}`);
      assert.match(refused.stderr, new RegExp(`^poof: poof ${command} does not work on an append-only backup \\("mode": "append-only" in poof\\.conf\\)`));
    }
    assert.deepEqual(await storageSnapshot(cloud), before);
    assert.ok((await readTree(dir)).size > 0, 'nothing local was wiped');
  });

  it('links kept as links are refused in append-only mode, naming the field', async () => {
    await setConf(sb, (conf) => void (conf.symlinks = 'links'));
    const refused = await runPoof(['backup'], { env: sb.env });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /poof\.conf: symlinks is "links", which append-only mode does not keep \(fix: use "follow" \(the default\) or "skip" with "mode": "append-only"\)/);
    await setConf(sb, (conf) => void delete conf.symlinks);
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
      for (let i = 0; i < 12; i++) if (random() < 0.5) await writeFile(path.join(dir, `f${i}.bin`), Buffer.alloc(60_000 + i * 1000, 100 + round + i));
      await rm(path.join(dir, `f${Math.floor(random() * 12)}.bin`), { force: true });
      await writeFile(path.join(dir, `new-${round}.txt`), `round ${round}\n`);
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
      const history = JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History;
      const newest = history.mappings[0]!.runs.filter((r) => r.complete).at(-1)!.id;
      assert.ok(!snapshots.some((s) => s.runId === newest), `seed ${seed} round ${round}: the round's changes are a run of their own`);
      snapshots.push(await snapshot(dir, newest));
    }
    for (const snap of snapshots) {
      const into = path.join(sb.dir, `after-kills-${snap.runId}`);
      const restored = await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env: sb.env });
      assert.equal(restored.code, 0, `seed ${seed} ${snap.runId}: ${restored.stderr}`);
      assert.deepEqual(await readTree(path.join(into, 'Work')), snap.tree, `seed ${seed}: run ${snap.runId} comes back byte for byte`);
      await rm(into, { recursive: true, force: true });
    }
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
});
