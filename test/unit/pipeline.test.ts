import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Context } from '../../src/context.js';
import { resolvePaths } from '../../src/config/paths.js';
import { runMapping } from '../../src/engine/run-mapping.js';
import { runAll } from '../../src/engine/run-all.js';
import type { BackupResult } from '../../src/engine/result.js';
import { CancelledError } from '../../src/errors.js';
import { runPipeline } from '../../src/run/pipeline.js';
import { loadRecording, recordedRclone } from '../helpers/recorded-rclone.js';

/**
 * The run session through the pipeline: real config files in a temp dir, a recorded rclone.
 * Every way a run ends is recorded once, and the lock is always released.
 */
describe('runPipeline: the session every data command runs in', () => {
  let dir: string;
  let ctx: Context;
  const out: string[] = [];
  const err: string[] = [];
  const history = async () => (await readFile(ctx.paths.historyFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { status: string; exitCode: number; reason?: string; mappings: unknown[] });
  const lockGone = async () => readFile(ctx.paths.lockFile).then(() => false, () => true);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'poof-pipeline-'));
    const home = path.join(dir, 'home');
    const confdir = path.join(dir, 'conf');
    await mkdir(path.join(home, 'Docs'), { recursive: true });
    await mkdir(confdir, { recursive: true });
    await writeFile(path.join(home, 'Docs', 'a.txt'), 'a');
    await writeFile(path.join(confdir, 'poof.conf'), JSON.stringify({ bucket: 'b', remote: 'r', paths: { [path.join(home, 'Docs')]: 'Docs' } }));
    await writeFile(path.join(confdir, 'rclone-poof.conf'), `[r]\ntype = alias\nremote = ${path.join(dir, 'cloud')}\n`, { mode: 0o600 });
    const env = { HOME: home, POOF_STATE_DIR: path.join(dir, 'state') };
    ctx = {
      paths: resolvePaths({ dirs: { config: confdir, data: path.join(home, 'data'), log: path.join(home, 'log') }, home, platform: 'linux', cwd: dir, confdirFlag: confdir, env }),
      env,
      cwd: dir,
      home,
      user: 'tester',
      platform: 'linux',
      interactive: false,
      stdoutIsTTY: false,
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      // Each run here is given its rclone through the pipeline's adapters.
      locateRclone: () => Promise.reject(new Error('this test finds no rclone of its own')),
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));
  beforeEach(() => {
    out.length = 0;
    err.length = 0;
  });

  it('runs the body with the resolved remote and rclone, records ok and unlocks', async () => {
    const rclone = recordedRclone([loadRecording('sync')]);
    const { exitCode, outcome } = await runPipeline(
      ctx,
      { command: 'backup', dryRun: false },
      async ({ remote, rclone: given, interrupt, log }) => {
        assert.deepEqual([remote.storageType, remote.root, remote.crypt], ['alias', 'r:b', false]);
        assert.equal(await lockGone(), false, 'the lock is held while the body runs');
        const hooks = { emit: () => {}, log: log.write, cancelSignal: interrupt.signal, dryRun: false };
        const plan = { name: 'Docs', localDir: '/x', remotePath: 'r:b/Docs', args: ['sync'] };
        return runAll<BackupResult>([plan], async (p) => ({ ...(await runMapping(given, p, hooks)), kind: 'backup' }), { cancelSignal: interrupt.signal, emit: () => {} });
      },
      { locateRclone: async () => rclone },
    );
    assert.equal(exitCode, 0);
    assert.deepEqual(outcome.results.map((r) => [r.name, r.copied, r.deleted]), [['Docs', 2, 1]]);
    const last = (await history()).at(-1)!;
    assert.deepEqual([last.status, last.exitCode, last.mappings.length], ['ok', 0, 1]);
    assert.equal(await lockGone(), true);
  });

  it('a failure inside the body is recorded with its code and reason, then thrown on', async () => {
    await assert.rejects(
      runPipeline(ctx, { command: 'upload', dryRun: false }, async () => {
        throw new CancelledError('upload cancelled');
      }, { locateRclone: async () => recordedRclone([]) }),
      CancelledError,
    );
    const last = (await history()).at(-1)!;
    assert.deepEqual([last.status, last.exitCode, last.reason], ['cancelled', 130, 'upload cancelled']);
    assert.equal(await lockGone(), true);
  });

  it('SIGINT while the body runs ends it with 130, recorded as interrupted', async () => {
    const { exitCode } = await runPipeline(ctx, { command: 'backup', dryRun: false }, async ({ interrupt }) => {
      process.emit('SIGINT', 'SIGINT');
      assert.equal(interrupt.signal.aborted, true, 'the body sees the interruption');
      return { results: [], notRun: ['Docs'] };
    }, { locateRclone: async () => recordedRclone([]) });
    assert.equal(exitCode, 130);
    assert.ok(err.some((l) => /backup interrupted by SIGINT/.test(l)));
    const last = (await history()).at(-1)!;
    assert.deepEqual([last.status, last.exitCode], ['interrupted', 130]);
    assert.equal(await lockGone(), true);
  });

  it('an --only that names no mapping is refused before the lock, and still recorded', async () => {
    await assert.rejects(runPipeline(ctx, { command: 'backup', dryRun: false, only: ['Nope'] }, async () => ({ results: [], notRun: [] }), { locateRclone: async () => recordedRclone([]) }), /--only "Nope" is not a mapping/);
    const last = (await history()).at(-1)!;
    assert.deepEqual([last.status, last.exitCode], ['failed', 2]);
  });
});
