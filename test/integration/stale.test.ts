import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunRecord } from '../../src/run/history.js';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';

const DAY_MS = 86_400_000;

function record(command: string, endedMsAgo: number, dryRun: boolean): RunRecord {
  const ended = Date.now() - endedMsAgo;
  return {
    command,
    started: new Date(ended - 60_000).toISOString(),
    ended: new Date(ended).toISOString(),
    status: 'ok',
    exitCode: 0,
    dryRun,
    mappings: [{ name: 'Documents', status: 'ok', copied: 1, deleted: 0, bytes: 2, errors: 0, durationMs: 100 }],
  };
}

interface VerifyJson {
  ok: boolean;
  checks: Array<{ id: string; status: string; detail: string }>;
}

describe('stale backups in poof status and poof verify', () => {
  let sb: Sandbox;
  let confFile: string;
  before(async () => {
    sb = await makeSandbox();
    for (const name of ['Documents', 'Pictures']) {
      await mkdir(path.join(sb.home, name), { recursive: true });
      await writeFile(path.join(sb.home, name, 'a.txt'), 'a\n');
    }
    const made = await runPoof(['config', '--map', `${sb.home}/Documents=Documents`, '--map', `${sb.home}/Pictures=Pictures`], { env: sb.env });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
    confFile = path.join(sb.confdir, 'poof.conf');
    // Documents' last real backup was 3 days ago; the dry run since then copied nothing.
    const { historyFile, stateDir } = JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as { historyFile: string; stateDir: string };
    await mkdir(stateDir, { recursive: true });
    await writeFile(historyFile, [record('backup', 3 * DAY_MS, false), record('backup', 3_600_000, true)].map((r) => `${JSON.stringify(r)}\n`).join(''));
  });
  after(() => sb.cleanup());

  it('status warns about a mapping last backed up 3 days ago and one never backed up', async () => {
    const result = await runPoof(['status'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^warning: Documents: last successful backup 3 days ago \(\d{4}-\d\d-\d\d \d\d:\d\dZ\), more than 48 hours$/m);
    assert.match(result.stdout, /^warning: Pictures: never backed up successfully$/m);
    const json = JSON.parse((await runPoof(['status', '--json'], { env: sb.env })).stdout) as { staleAfterHours: number; stale: Array<{ name: string; ageHours: number | null }> };
    assert.equal(json.staleAfterHours, 48);
    assert.deepEqual(json.stale.map((s) => [s.name, s.ageHours]), [['Documents', 72], ['Pictures', null]]);
  });

  it('verify warns in one line and still passes (exit 0)', async () => {
    const result = await runPoof(['verify', '--offline'], { env: sb.env });
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^warn {2}last backup: Documents: last successful backup 3 days ago \([^)]+\), more than 48 hours; Pictures: never backed up successfully \(fix: run `poof backup`/m);
    const json = JSON.parse((await runPoof(['verify', '--offline', '--json'], { env: sb.env })).stdout) as VerifyJson;
    assert.equal(json.ok, true);
    assert.equal(json.checks.find((c) => c.id === 'last-backup')?.status, 'warn');
  });

  it('"staleAfterHours" moves the limit', async () => {
    await writeFile(confFile, JSON.stringify({ ...JSON.parse(await readFile(confFile, 'utf8')), staleAfterHours: 100 }));
    const result = await runPoof(['status'], { env: sb.env });
    assert.doesNotMatch(result.stdout, /Documents: last successful/);
    assert.match(result.stdout, /^warning: Pictures: never backed up successfully$/m);
  });

  it('after a real backup nothing is stale: no warning in status, an ok line in verify', async () => {
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const status = await runPoof(['status'], { env: sb.env });
    assert.doesNotMatch(status.stdout, /warning/);
    const json = JSON.parse((await runPoof(['status', '--json'], { env: sb.env })).stdout) as { stale: unknown[] };
    assert.deepEqual(json.stale, []);
    const verify = await runPoof(['verify', '--offline'], { env: sb.env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /^ {2}ok {2}last backup: every mapping was backed up successfully within 100 hours$/m);
  });
});
