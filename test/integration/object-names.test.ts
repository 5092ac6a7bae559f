import assert from 'node:assert/strict';
import { mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cconfigS3, makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import type { RunningServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

/**
 * File names that are also the names of every JavaScript object's built-in properties. A record
 * kept in a plain object would read `constructor` as present before it was ever backed up, and
 * would turn `__proto__` into the object's prototype instead of a file: a restore would then
 * leave it out, or remove it.
 */
const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];

async function writeNames(dir: string, label: string, moment: number): Promise<void> {
  await mkdir(path.join(dir, '__proto__dir'), { recursive: true });
  for (const name of NAMES) {
    await writeFile(path.join(dir, name), `${name} ${label}\n`);
    await utimes(path.join(dir, name), moment, moment);
  }
  await writeFile(path.join(dir, '__proto__dir', '__proto__'), `nested ${label}\n`);
}

async function roundTrip(sb: Sandbox, env: Record<string, string>, dir: string, label: string): Promise<void> {
  await writeNames(dir, 'one', 1_700_000_000);
  const first = await runPoof(['backup', '--json'], { env });
  assert.equal(first.code, 0, first.stderr);
  const firstId = (JSON.parse(first.stdout) as { runId: string }).runId;
  const one = await readTree(dir);
  assert.ok(one.has('__proto__') && one.has('constructor'), 'the tree holds the names');

  // Change some, delete some, add one: each name goes through every path a run takes.
  await writeFile(path.join(dir, 'constructor'), 'constructor two, longer\n');
  await writeFile(path.join(dir, '__proto__'), '__proto__ two, longer\n');
  await rm(path.join(dir, 'toString'));
  await rm(path.join(dir, 'valueOf'));
  await writeFile(path.join(dir, 'propertyIsEnumerable'), 'added\n');
  const second = await runPoof(['backup', '--json'], { env });
  assert.equal(second.code, 0, second.stderr);
  const secondRun = JSON.parse(second.stdout) as { runId: string; mappings: Array<{ copied: number; deleted: number }> };
  assert.equal(secondRun.mappings[0]?.copied, 3, 'two changed and one added file were sent');
  assert.equal(secondRun.mappings[0]?.deleted, 2, 'two deleted');
  const two = await readTree(dir);

  const again = await runPoof(['backup', '--json'], { env });
  assert.equal((JSON.parse(again.stdout) as { mappings: Array<{ copied: number }> }).mappings[0]?.copied, 0, 'nothing left to send');

  for (const [id, tree, name] of [[firstId, one, 'one'], [secondRun.runId, two, 'two']] as const) {
    const into = path.join(sb.dir, `restored-${label}-${name}`);
    const restored = await runPoof(['restore', '--at', id, '--to', into, '--yes'], { env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await readTree(path.join(into, 'Names')), tree, `run ${name} comes back whole (${label})`);
  }

  const versions = await runPoof(['versions', 'Names/__proto__', '--json'], { env });
  assert.equal(versions.code, 0, versions.stderr);
  assert.deepEqual((JSON.parse(versions.stdout) as { versions: Array<{ size: number }> }).versions.map((v) => v.size), [22, 14], '__proto__: newest first');
  const check = await runPoof(['check', '--full'], { env });
  assert.equal(check.code, 0, check.stdout + check.stderr);

  // The old version comes back in place; the file replaced goes to the trash, not away.
  const single = await runPoof(['restore', '--at', firstId, path.join(dir, 'constructor'), '--yes'], { env });
  assert.equal(single.code, 0, single.stderr);
  assert.equal(await readFile(path.join(dir, 'constructor'), 'utf8'), 'constructor one\n');
}

describe('files named like built-in object properties (__proto__, constructor, toString)', () => {
  const sandboxes: Sandbox[] = [];
  let s3: RunningServer | undefined;
  after(async () => {
    await s3?.stop();
    for (const sb of sandboxes) await sb.cleanup();
  });

  it('on a local-directory remote: backed up, changed, deleted, restored run by run, listed and checked', async () => {
    const sb = await makeSandbox();
    sandboxes.push(sb);
    const { dirs } = await mapLocalDirs(sb, { Names: {} });
    await roundTrip(sb, sb.env, dirs.Names!, 'local');
  });

  it('on S3 (s3rver): the same', async () => {
    const sb = await makeSandbox();
    sandboxes.push(sb);
    const dir = path.join(sb.home, 'Names');
    await mkdir(dir);
    const mapped = await runPoof(['config', '--map', `${dir}=Names`], { env: sb.env });
    assert.equal(mapped.code, 0, mapped.stderr);
    let env: Record<string, string>;
    ({ env, s3 } = await cconfigS3(sb));
    await roundTrip(sb, env, dir, 's3');
  });
});
