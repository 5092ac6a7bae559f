import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { LogEvent, RcloneStats } from '../../src/rclone/log-parse.js';
import { watchConnection } from '../../src/rclone/watchdog.js';

const STALL_MS = 60;

function stats(fields: Partial<RcloneStats>): LogEvent {
  const base: RcloneStats = { bytes: 0, totalBytes: 0, transfers: 0, totalTransfers: 0, checks: 0, deletes: 0, errors: 0, elapsedTime: 0, speed: 0, eta: null, transferring: [] };
  return { kind: 'stats', stats: { ...base, ...fields } };
}
const lost: LogEvent = { kind: 'error', message: 'Failed to copy: Update Create failed: connection lost', object: 'a.bin' };

/** Feed events one by one with a pause between them; say whether the watchdog stopped rclone. */
async function feed(events: LogEvent[], pauseMs: number): Promise<{ aborted: boolean; stalled: string | undefined }> {
  const watchdog = watchConnection(undefined, STALL_MS);
  try {
    for (const event of events) {
      watchdog.see(event);
      await sleep(pauseMs);
    }
    return { aborted: watchdog.signal.aborted, stalled: watchdog.stalled()?.message };
  } finally {
    watchdog.dispose();
  }
}

describe('the stall watchdog', () => {
  it('stops rclone when, after a connection error, no byte moves although files keep failing', async () => {
    // rclone counts a failed transfer and a check as done: these counters rise against a dead server.
    const events = [lost, stats({ bytes: 500, transfers: 10 })];
    for (let i = 1; i <= 8; i++) events.push(lost, stats({ bytes: 500, transfers: 10 + i, checks: i, deletes: i, errors: i }));
    const result = await feed(events, 20);
    assert.equal(result.aborted, true);
    assert.match(result.stalled ?? '', /connection lost/);
  });

  it('lets rclone go on while bytes still move after a connection error', async () => {
    const events = [lost, stats({ bytes: 500 })];
    for (let i = 1; i <= 8; i++) events.push(stats({ bytes: 500 + i * 1000 }));
    const result = await feed(events, 20);
    assert.equal(result.aborted, false);
    assert.equal(result.stalled, undefined);
  });

  it('a file that finishes clears the error; a later connection error arms it again', async () => {
    const copied: LogEvent = { kind: 'file', action: 'copied', object: 'b.bin', message: 'Copied (new)' };
    assert.equal((await feed([lost, stats({ bytes: 1 }), copied, stats({ bytes: 1 }), stats({ bytes: 1 }), stats({ bytes: 1 })], 25)).aborted, false);
    assert.equal((await feed([lost, copied, lost, stats({ bytes: 1 }), stats({ bytes: 1 }), stats({ bytes: 1 }), stats({ bytes: 1 })], 25)).aborted, true);
  });

  it('an error that is no connection error never stops rclone', async () => {
    const denied: LogEvent = { kind: 'error', message: 'Failed to copy: permission denied', object: 'c.bin' };
    assert.equal((await feed([denied, stats({}), stats({}), stats({}), stats({}), stats({})], 30)).aborted, false);
  });

  it('silent for a while with no error logged: asks the remote, and stops rclone when it does not answer', async () => {
    let asked = 0;
    const watchdog = watchConnection(undefined, STALL_MS, async () => {
      asked++;
      return 'dial tcp 127.0.0.1:9: connect: connection refused';
    });
    try {
      await sleep(STALL_MS * 3);
      assert.equal(watchdog.signal.aborted, true);
      assert.equal(asked, 1);
      assert.match(watchdog.stalled()?.message ?? '', /connection refused/);
    } finally {
      watchdog.dispose();
    }
  });

  it('a remote that answers the probe lets rclone go on, and is asked less and less often', async () => {
    const times: number[] = [];
    const started = Date.now();
    const watchdog = watchConnection(undefined, STALL_MS, async () => {
      times.push(Date.now() - started);
      return undefined;
    });
    try {
      await sleep(STALL_MS * 12);
      assert.equal(watchdog.signal.aborted, false);
      assert.ok(times.length >= 2 && times.length <= 4, `asked ${times.length} times`);
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      assert.ok(gaps.every((gap, i) => i === 0 || gap > gaps[i - 1]!), `gaps grow: ${gaps.join(', ')}`);
    } finally {
      watchdog.dispose();
    }
  });

  it('activity while the probe runs means rclone got an answer: not stopped', async () => {
    let watchdog: ReturnType<typeof watchConnection> | undefined;
    watchdog = watchConnection(undefined, STALL_MS, async () => {
      watchdog?.see({ kind: 'file', action: 'copied', object: 'x', message: 'Copied (new)' });
      return 'connection refused';
    });
    try {
      await sleep(STALL_MS * 2);
      assert.equal(watchdog.signal.aborted, false);
    } finally {
      watchdog.dispose();
    }
  });

  it('forwards the user\'s interruption', () => {
    const user = new AbortController();
    const watchdog = watchConnection(user.signal, STALL_MS);
    user.abort(new Error('SIGINT'));
    assert.equal(watchdog.signal.aborted, true);
    assert.equal(watchdog.stalled(), undefined);
    watchdog.dispose();
  });
});
