import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

interface Ping {
  path: string;
  body: string;
}

/** A healthchecks.io stand-in on 127.0.0.1 that records every ping. */
async function startPingServer(): Promise<{ url: string; pings: Ping[]; close(): Promise<void> }> {
  const pings: Ping[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      pings.push({ path: req.url ?? '', body });
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/ping/abc`, pings, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('healthcheck pings and hooks around scheduled runs', () => {
  let sb: Sandbox;
  let hc: Awaited<ReturnType<typeof startPingServer>>;
  let confFile: string;
  let src: string;
  before(async () => {
    sb = await makeSandbox();
    hc = await startPingServer();
    const backup = await mapLocalDirs(sb, { Documents: { 'a.txt': 'a\n' } });
    src = backup.dirs.Documents!;
    confFile = backup.paths.poofConf!;
  });
  after(async () => {
    await hc.close();
    await sb.cleanup();
  });

  async function setConf(extra: Record<string, unknown>): Promise<void> {
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    delete conf.hooks;
    delete conf.healthcheck;
    await writeFile(confFile, JSON.stringify({ ...conf, ...extra }));
  }

  it('a successful run pings /start then success, and runs the after hook with the exit code', async () => {
    const marker = path.join(sb.dir, 'after.txt');
    await setConf({ healthcheck: hc.url, hooks: { before: `echo before > '${sb.dir}/before.txt'`, after: `echo "$POOF_COMMAND $POOF_EXIT_CODE" > '${marker}'` } });
    hc.pings.length = 0;
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(hc.pings.map((p) => p.path), ['/ping/abc/start', '/ping/abc']);
    assert.equal(await readFile(marker, 'utf8'), 'backup 0\n');
    assert.equal(await readFile(path.join(sb.dir, 'before.txt'), 'utf8'), 'before\n');
  });

  it('a failed run pings /fail with its exit code and runs onFailure; a failing after hook hides nothing', async () => {
    await rm(src, { recursive: true });
    await mkdir(src);
    const marker = path.join(sb.dir, 'failure.txt');
    await setConf({ healthcheck: hc.url, hooks: { onFailure: `echo "failed $POOF_EXIT_CODE" > '${marker}'`, after: 'exit 3' } });
    hc.pings.length = 0;
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 1, 'the backup\'s own result (an empty source is refused)');
    assert.deepEqual(hc.pings.map((p) => p.path), ['/ping/abc/start', '/ping/abc/fail']);
    assert.match(hc.pings[1]!.body, /exit code 1/);
    assert.equal(await readFile(marker, 'utf8'), 'failed 1\n');
    assert.match(result.stderr, /the after hook failed \(exit 3\); the run's own result stands/);
    await writeFile(path.join(src, 'a.txt'), 'a\n');
  });

  it('a failing before hook stops the run (exit 1); an unreachable healthcheck never fails a good run', async () => {
    await setConf({ hooks: { before: 'echo disk not mounted >&2; exit 4' } });
    const stopped = await runPoof(['backup'], { env: sb.env });
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, /the before hook failed \(exit 4: disk not mounted\); backup did not run/);
    await hc.close();
    await setConf({ healthcheck: hc.url });
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /healthcheck ping \/start failed: .*ECONNREFUSED/);
    assert.doesNotMatch(result.stderr, /ping\/abc/, 'the ping URL (a secret token) is not printed');
    hc = await startPingServer();
  });
});
