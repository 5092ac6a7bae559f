import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { openLogFile } from '../../src/run/log-file.js';

describe('openLogFile', () => {
  it('keeps every line in order, routine ones in batches: a few reach the file within a second, an error at once, all of them by close, privately', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-log-'));
    try {
      const file = path.join(dir, 'poof.log');
      const log = openLogFile(file);
      log.write('first');
      log.write('second');
      let early = '';
      for (let i = 0; i < 40 && early === ''; i++) {
        await sleep(50);
        early = await readFile(file, 'utf8').catch(() => '');
      }
      assert.equal(early, 'first\nsecond\n', 'a quiet run still shows its lines soon');
      const routine = (i: number) => `{"level":"info","msg":"Copied (new)","object":"f${i}"}`;
      log.write(routine(1));
      const error = '{"level":"error","msg":"can\'t copy - source file is being updated","object":"inbox.mbox"}';
      log.write(error);
      // Well before the batch's 250 ms: at once, with what came before it.
      let seen = false;
      for (let i = 0; i < 15 && !seen; i++) {
        seen = (await readFile(file, 'utf8')).endsWith(`${routine(1)}\n${error}\n`);
        if (!seen) await sleep(10);
      }
      assert.ok(seen, 'an error goes out at once, with what came before it');
      const many = Array.from({ length: 20_000 }, (_, i) => (i % 1000 === 999 ? `line ${i}` : routine(i)));
      for (const line of many) log.write(line);
      await log.close();
      assert.equal(await readFile(file, 'utf8'), ['first', 'second', routine(1), error, ...many].map((l) => `${l}\n`).join(''));
      assert.equal((await stat(file)).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
