import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Rclone, RcloneResult, RunOptions } from '../../src/rclone/runner.js';
import { root } from './sandbox.js';

/** One real rclone run, captured by test/fixtures/rclone/capture.sh. */
export interface RecordedRun {
  version: string;
  args: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function loadRecording(name: string): RecordedRun {
  return JSON.parse(readFileSync(path.join(root, 'test', 'fixtures', 'rclone', `${name}.json`), 'utf8')) as RecordedRun;
}

export interface RecordedRclone extends Rclone {
  /** The argv of every call, in order. */
  calls: string[][];
}

/**
 * An rclone adapter that replays recorded runs in order, one per call, feeding their stderr
 * line by line as the real runner does. A call beyond the recordings fails the test. A run
 * whose cancel signal is already aborted ends as rclone does on SIGTERM.
 */
export function recordedRclone(runs: RecordedRun[]): RecordedRclone {
  const queue = [...runs];
  const calls: string[][] = [];
  return {
    bin: '/recorded/rclone',
    version: { major: 1, minor: 60, patch: 1, text: 'v1.60.1' },
    calls,
    async run(args: string[], options: RunOptions = {}): Promise<RcloneResult> {
      calls.push(args);
      const next = queue.shift();
      if (!next) throw new Error(`no recorded rclone run left for: rclone ${args.join(' ')}`);
      if (options.cancelSignal?.aborted) return { exitCode: -1, stdout: '', stderr: '', timedOut: false, signal: 'SIGTERM' };
      options.onSpawn?.();
      for (const line of next.stderr.split('\n')) if (line !== '') options.onStderrLine?.(line);
      await new Promise((r) => setImmediate(r));
      return { exitCode: next.exitCode, stdout: next.stdout, stderr: next.stderr, timedOut: false };
    },
  };
}

/** Pure: a recording with every per-file line logged twice, as newer rclone versions log more per file. */
export function withRepeatedFileLines(run: RecordedRun): RecordedRun {
  const lines = run.stderr.split('\n').flatMap((line) => (/"object":/.test(line) && !/"stats":/.test(line) ? [line, line] : [line]));
  return { ...run, stderr: lines.join('\n') };
}
