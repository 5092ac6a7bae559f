/** Shared by the versioned-backup tests: seeded runs of edits and the trees they leave. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { lstat, lutimes, mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runPoof, type Sandbox } from './sandbox.js';
import { readTree, readTreeMeta } from './tree.js';
import { seeded } from './seeded.js';


export interface Snapshot {
  runId: string;
  tree: Map<string, Buffer>;
  mtimes: Map<string, number>;
}

export type History = { mappings: Array<{ name: string; runs: Array<{ id: string; complete: boolean; added: number; changed: number; deleted: number }> }> };

const NAMES = ['notes.txt', 'a/report.md', 'a/b/data.bin', 'photos/x.jpg', 'photos/y.jpg', 'z.txt', 'a/b/c/deep.txt', 'with space.txt'];

/** Make room for a file at `rel`: any file where one of its folders must be, or a folder where it must be, goes. */
async function makeRoom(dir: string, rel: string): Promise<void> {
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const ancestor = path.join(dir, ...parts.slice(0, i));
    const info = await lstat(ancestor).catch(() => undefined);
    // A link where a folder must be goes too: nothing is written through it.
    if (info && !info.isDirectory()) await rm(ancestor);
  }
  await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
  const there = await lstat(path.join(dir, rel)).catch(() => undefined);
  if (there?.isDirectory()) await rm(path.join(dir, rel), { recursive: true });
  else if (there?.isSymbolicLink()) await rm(path.join(dir, rel));
}

/** Where the seeded links point: a file and a folder of the tree, outside it, and nowhere. */
const LINK_TARGETS = ['notes.txt', 'a', '../elsewhere/x', '/etc/hostname', 'missing-target'];

/**
 * One random step: edits, deletes, renames, adds, and a file made a folder of the same name or
 * the reverse; at least one change. Times move on, so every change shows.
 */
async function mutate(dir: string, random: () => number, step: number, links = false): Promise<void> {
  const tree = await readTree(dir, { links: true });
  const present = [...tree.keys()].sort();
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    const action = random();
    const name = NAMES[Math.floor(random() * NAMES.length)]!;
    const file = path.join(dir, name);
    if (links && random() < 0.3) {
      // A link made, pointed elsewhere, or put where a file or a folder was.
      await makeRoom(dir, name);
      await rm(file, { force: true });
      await symlink(LINK_TARGETS[Math.floor(random() * LINK_TARGETS.length)]!, file);
      // Its own time moves on too (a link's time is its own, kept as a link).
      await lutimes(file, new Date(Date.now() + step * 1000), new Date(Date.now() + step * 1000));
    } else if (action < 0.45 || present.length <= 2) {
      await makeRoom(dir, name);
      await writeFile(file, `${name} at step ${step}.${e}\n${'x'.repeat(Math.floor(random() * 200))}`);
    } else if (action < 0.65) {
      const victim = present[Math.floor(random() * present.length)]!;
      await rm(path.join(dir, victim), { recursive: true, force: true });
    } else if (action < 0.85) {
      const from = present[Math.floor(random() * present.length)]!;
      await makeRoom(dir, name);
      await rename(path.join(dir, from), file).catch(() => undefined);
    } else {
      // A file becomes a folder of the same name, or a folder a file.
      const victim = present[Math.floor(random() * present.length)]!;
      const folder = victim.includes('/') && random() < 0.5 ? victim.split('/')[0]! : undefined;
      if (folder) {
        await rm(path.join(dir, folder), { recursive: true, force: true });
        await writeFile(path.join(dir, folder), `${folder}, a folder before step ${step}.${e}\n`);
      } else {
        await rm(path.join(dir, victim), { recursive: true, force: true });
        await makeRoom(dir, `${victim}/inner.txt`);
        await writeFile(path.join(dir, victim, 'inner.txt'), `${victim}, a file before step ${step}.${e}\n`);
      }
    }
  }
  // Every step changes something, so every backup is one run.
  const after = await readTree(dir, { links: true });
  if (after.size === tree.size && [...after].every(([rel, content]) => tree.get(rel)?.equals(content))) {
    await makeRoom(dir, 'z.txt');
    await writeFile(path.join(dir, 'z.txt'), `forced change at step ${step}\n`);
  }
}

export async function snapshot(dir: string, runId: string, links = false): Promise<Snapshot> {
  const meta = await readTreeMeta(dir, { links });
  return { runId, tree: await readTree(dir, { links }), mtimes: new Map([...meta].map(([rel, m]) => [rel, m.mtime])) };
}

export async function runIds(sb: Sandbox, name: string): Promise<string[]> {
  const history = await runPoof(['history', '--json'], { env: sb.env });
  assert.equal(history.code, 0, history.stderr);
  return (JSON.parse(history.stdout) as History).mappings.find((m) => m.name === name)!.runs.map((r) => r.id);
}

/**
 * A seeded sequence of edits, deletes, renames and adds with a backup after each; then each run
 * is restored into a directory of its own (--to) and must be that run's tree, byte for byte, with
 * its modification times.
 */
export async function propertyCheck(sb: Sandbox, dir: string, name: string, runs: number, seed: number, keepsTimes = true, around?: { before: (step: number) => Promise<void>; after: (step: number) => Promise<void> }, links = false): Promise<void> {
  // Every run stays restorable (the default keeps the last 10 and the newest of each day).
  const confFile = path.join(sb.confdir, 'poof.conf');
  const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
  // Append-only keeps every run until a prune with another key.
  if (conf.mode !== 'append-only') await writeFile(confFile, JSON.stringify({ ...conf, keep: { last: 1000 } }));
  const random = seeded(seed);
  const snapshots: Snapshot[] = [];
  for (let step = 1; step <= runs; step++) {
    await mutate(dir, random, step, links);
    await around?.before(step);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, `seed ${seed} step ${step}: ${backup.stderr}`);
    await around?.after(step);
    snapshots.push(await snapshot(dir, (JSON.parse(backup.stdout) as { runId: string }).runId, links));
  }
  // Each backup that changed something is one run, in order, and history lists exactly those.
  assert.deepEqual((await runIds(sb, name)).slice(-runs), snapshots.map((s) => s.runId), `seed ${seed}`);
  for (const [i, snap] of snapshots.entries()) {
    const into = path.join(sb.dir, `restored-${seed}-${i}`);
    const restored = await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, `seed ${seed} run ${snap.runId}: ${restored.stderr}`);
    const back = path.join(into, name);
    assert.deepEqual(await readTree(back, { links }).catch(() => new Map()), snap.tree, `seed ${seed}: run ${i + 1} (${snap.runId}) comes back byte for byte`);
    // WebDAV keeps no modification times (poof verify says so): contents only there.
    const meta = await readTreeMeta(back, { links }).catch(() => new Map());
    if (keepsTimes) assert.deepEqual(new Map([...meta].map(([rel, m]) => [rel, m.mtime])), snap.mtimes, `seed ${seed}: run ${i + 1} comes back with its modification times`);
    await rm(into, { recursive: true, force: true });
  }
}


export function rcloneOut(sb: Sandbox, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...sb.env };
    delete env.AWS_CA_BUNDLE;
    const child = spawn('rclone', [...args, '--config', path.join(sb.confdir, 'rclone-poof.conf')], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`rclone ${args.join(' ')}: ${code}: ${err}`))));
  });
}

/** One round of the killed-run tests: about half the 12 files changed, one deleted, one added. */
export async function changeRound(dir: string, random: () => number, round: number): Promise<void> {
  for (let i = 0; i < 12; i++) if (random() < 0.5) await writeFile(path.join(dir, `f${i}.bin`), Buffer.alloc(60_000 + i * 1000, 100 + round + i));
  await rm(path.join(dir, `f${Math.floor(random() * 12)}.bin`), { force: true });
  await writeFile(path.join(dir, `new-${round}.txt`), `round ${round}\n`);
}

/** The newest complete run of the first mapping, as `poof history` lists it. */
export async function newestCompleteRun(sb: Sandbox): Promise<string> {
  const history = JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as History;
  return history.mappings[0]!.runs.filter((r) => r.complete).at(-1)!.id;
}

/** Every snapshot's run restores into a directory of its own, byte for byte. */
export async function assertEachRestores(sb: Sandbox, snapshots: Snapshot[], seed: number, name = 'Work'): Promise<void> {
  for (const snap of snapshots) {
    const into = path.join(sb.dir, `after-kills-${snap.runId}`);
    const restored = await runPoof(['restore', '--at', snap.runId, '--to', into, '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, `seed ${seed} ${snap.runId}: ${restored.stderr}`);
    assert.deepEqual(await readTree(path.join(into, name)), snap.tree, `seed ${seed}: run ${snap.runId} comes back byte for byte`);
    await rm(into, { recursive: true, force: true });
  }
}
