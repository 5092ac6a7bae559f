import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { MappingPlan } from '../../src/engine/plan.js';
import { runWithSentRecord, type SentStore } from '../../src/engine/sent-transfer.js';
import type { SentRecord } from '../../src/engine/sent-record.js';
import type { Rclone, RcloneResult, RunOptions } from '../../src/rclone/runner.js';
import { buildSyncArgs } from '../../src/rclone/args.js';
import { settingsFor } from '../helpers/transfer.js';

const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);

/**
 * A stand-in for rclone on a local-directory "cloud" that copies the way a race leaves things:
 * its sync stores `late.txt` with the mode the file had before the user's `chmod 600`, which the
 * walk (beside the transfer) sees. Its copy of a file list stores each file as it is now.
 */
function racingRclone(source: string, mirror: string): Rclone & { subcommands: string[] } {
  const subcommands: string[] = [];
  const copied = (file: string) => JSON.stringify({ level: 'info', msg: 'Copied (new)', object: file, objectType: '*local.Object' });
  return {
    bin: '/fake/rclone',
    version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
    subcommands,
    async run(args: string[], options: RunOptions = {}): Promise<RcloneResult> {
      subcommands.push(args[0]!);
      options.onSpawn?.();
      mkdirSync(mirror, { recursive: true });
      const files = args[0] === 'sync' ? ['late.txt'] : readFileSync(args[args.indexOf('--files-from-raw') + 1]!, 'utf8').split('\n').filter(Boolean);
      for (const file of files) {
        copyFileSync(path.join(source, file), path.join(mirror, file));
        chmodSync(path.join(mirror, file), args[0] === 'sync' ? 0o644 : statSync(path.join(source, file)).mode & 0o777);
        options.onStderrLine?.(copied(file));
      }
      await new Promise((resolve) => setImmediate(resolve));
      return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
    },
  };
}

describe('the walk beside the transfer (local-directory cloud)', () => {
  it('a file stored with a mode the walk did not see is sent again, so the record never holds a mode the backup lacks', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-alongside-'));
    try {
      const source = path.join(dir, 'src');
      const mirror = path.join(dir, 'cloud', 'Keys');
      mkdirSync(source);
      writeFileSync(path.join(source, 'late.txt'), 'key\n');
      chmodSync(path.join(source, 'late.txt'), 0o600);
      const syncInput = { ...settingsFor('alias'), source, dest: 'poof-backup:bkt/Keys' };
      const plan: MappingPlan = { name: 'Keys', localDir: source, remotePath: 'poof-backup:bkt/Keys', args: buildSyncArgs(syncInput), syncInput };
      let record: SentRecord | undefined;
      const store: SentStore = { read: async () => record, write: async (_plan, written) => void (record = written) };
      const rclone = racingRclone(source, mirror);
      const hooks = { emit: () => undefined, log: () => undefined, cancelSignal: new AbortController().signal, dryRun: false };
      const result = await runWithSentRecord(rclone, plan, hooks, store, { withModes: true, sizeOnly: false, precisionNs: 1, mirrorOnDisk: () => mirror });
      assert.equal(result.status, 'ok', result.reason);
      assert.deepEqual(rclone.subcommands, ['sync', 'copy'], 'the file went again, in a pass of its own');
      assert.equal(modeOf(path.join(mirror, 'late.txt')), '600', 'the stored copy has the mode the file has');
      assert.equal(record?.['late.txt']?.[2], '100600');
      assert.equal(result.copied, 2, 'two sends, each counted');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the record of what was sent, read while rclone works', () => {
  it('a record that cannot be read fails a finished transfer as before, and goes unnoticed (never unhandled) when the transfer failed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-alongside-'));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const source = path.join(dir, 'src');
      const mirror = path.join(dir, 'cloud', 'Keys');
      mkdirSync(source);
      writeFileSync(path.join(source, 'late.txt'), 'key\n');
      const syncInput = { ...settingsFor('alias'), source, dest: 'poof-backup:bkt/Keys' };
      const plan: MappingPlan = { name: 'Keys', localDir: source, remotePath: 'poof-backup:bkt/Keys', args: buildSyncArgs(syncInput), syncInput };
      const store: SentStore = { read: async () => Promise.reject(new Error('EACCES: the record')), write: async () => undefined };
      const hooks = { emit: () => undefined, log: () => undefined, cancelSignal: new AbortController().signal, dryRun: false };
      const storage = { withModes: true, sizeOnly: false, precisionNs: 1, mirrorOnDisk: () => mirror };
      await assert.rejects(runWithSentRecord(racingRclone(source, mirror), plan, hooks, store, storage), /EACCES: the record/);
      const failing: Rclone = {
        bin: '/fake/rclone',
        version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
        async run(_args: string[], options: RunOptions = {}): Promise<RcloneResult> {
          options.onSpawn?.();
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { exitCode: 1, stdout: '', stderr: '{"level":"error","msg":"directory not found"}\n', timedOut: false };
        },
      };
      const result = await runWithSentRecord(failing, plan, hooks, store, storage);
      assert.equal(result.status, 'failed');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
