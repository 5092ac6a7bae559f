import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { startS3, type RunningServer } from '../helpers/servers.js';
import { readTree } from '../helpers/tree.js';

/**
 * A server that refuses connections: rclone 1.60 fails at once, rclone 1.75 retries S3 silently
 * (nothing logged above debug level) for 7.5 minutes and then reports "is a file not a
 * directory"; 1.60 was silent too. poof asks the remote itself after 10 s without progress and
 * stops either, naming the network's error.
 */
describe('an S3 server that is down', () => {
  let sb: Sandbox;
  let s3: RunningServer;
  let docs: string;
  before(async () => {
    sb = await makeSandbox();
    ({ dirs: { Docs: docs = '' } } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n', 'sub/b.txt': 'b\n' } }));
    s3 = await startS3(path.join(sb.dir, 's3data'));
    const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER', '--force'], { env: { ...sb.env, POOF_SECRET: 'S3RVER' } });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await s3.stop();
  });
  after(() => sb.cleanup());

  it('backup fails within a minute, saying the remote does not answer', async () => {
    const started = Date.now();
    const result = await runPoof(['backup'], { env: sb.env, timeoutMs: 120_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
    assert.match(result.stderr, /Docs: FAILED: the remote stopped answering \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\); poof stopped rclone after \d+ s without progress/);
  });

  it('download fails within a minute and changes nothing locally', async () => {
    const before = await readTree(docs);
    const started = Date.now();
    const result = await runPoof(['download', '--yes'], { env: sb.env, timeoutMs: 120_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
    assert.match(result.stderr, /Docs: REFUSED: could not list poof-backup:\S+\/Docs: the remote does not answer \(dial tcp 127\.0\.0\.1:\d+: connect: connection refused\)/);
    assert.deepEqual(await readTree(docs), before);
  });
});
