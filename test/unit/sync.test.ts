import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bisyncMessage, buildBisyncArgs, judgeBisync, listedFiles, plannedReplacements, renderSyncFilters, SYNC_CHECK_FILE } from '../../src/sync/bisync.js';
import { lockPid } from '../../src/sync/run.js';
import { keptFolders, keptIdFor, planSyncKeptPrune, runOfKeptId, syncKeptOf, syncKeptRoot } from '../../src/sync/kept.js';
import { formatSyncKept, formatSyncKeptPrune, summarizeSyncKept } from '../../src/ui/history-format.js';

describe('rclone bisync for two-way mappings', () => {
  const input = { configFile: '/c/rclone-poof.conf', local: '/home/u/P', remote: 'poof-backup:b/P', workdir: '/s/sync/P', filtersFile: '/s/sync/P/filters.txt', maxDeletePercent: 10 };
  it('always checks access with poof\'s own file and caps deletions by share; 1.66+ adds recovery and keeps conflicts explicitly', () => {
    const old = buildBisyncArgs({ ...input, capabilities: { bisyncSafetyFlags: false } });
    assert.deepEqual(old.slice(0, 3), ['bisync', '/home/u/P', 'poof-backup:b/P']);
    for (const pair of [['--check-filename', SYNC_CHECK_FILE], ['--max-delete', '10'], ['--workdir', '/s/sync/P'], ['--filters-file', '/s/sync/P/filters.txt'], ['--config', '/c/rclone-poof.conf']]) {
      assert.equal(old[old.indexOf(pair[0]!) + 1], pair[1]);
    }
    assert.ok(old.includes('--check-access') && old.includes('--ask-password=false'));
    assert.equal(old.some((a) => /links|resync|recover|dry-run/.test(a)), false, 'no link flag, no resync unless asked');
    assert.equal(buildBisyncArgs({ ...input, capabilities: { bisyncSafetyFlags: false }, keep: { local: '/k/l', remote: 'r:b/.poof-sync-kept/x/P' } }).includes('--backup-dir1'), false, 'rclone 1.60 has no backup dirs for bisync');
    const current = buildBisyncArgs({ ...input, capabilities: { bisyncSafetyFlags: true }, resync: true, dryRun: true, keep: { local: '/k/l', remote: 'r:b/.poof-sync-kept/x/P' } });
    assert.equal(current[current.indexOf('--backup-dir1') + 1], '/k/l');
    assert.equal(current[current.indexOf('--backup-dir2') + 1], 'r:b/.poof-sync-kept/x/P');
    for (const flag of ['--resilient', '--recover', '--resync', '--dry-run']) assert.ok(current.includes(flag), flag);
    assert.equal(current[current.indexOf('--conflict-resolve') + 1], 'none');
  });

  it('writes the user\'s excludes and restore staging as filter lines', () => {
    assert.equal(renderSyncFilters(['*.tmp']), '- *.tmp\n- /.poof-restore-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]/**\n');
  });

  it('reads what happened from rclone 1.60 and 1.75 messages (JSON or plain, coloured or not)', () => {
    const coloured = bisyncMessage('{"level":"info","msg":"- \\u001b[36mPath1\\u001b[0m    \\u001b[35m\\u001b[32mQueue copy to\\u001b[0m Path2\\u001b[0m       - \\u001b[36mbs/r/a.txt\\u001b[0m"}');
    assert.equal(coloured, '- Path1    Queue copy to Path2       - bs/r/a.txt');
    const ok = judgeBisync(0, [coloured, '- Path2    Queue copy to Path1 - x', '- Path1    Queue delete - y', '- WARNING  New or changed in both paths        - a.txt'], 'P', 10);
    assert.deepEqual(ok, { status: 'ok', toRemote: 1, toLocal: 1, deleted: 1, conflicts: 1 });
    const deletes = judgeBisync(1, ['ERROR : Safety abort: too many deletes (>10%, 1 of 3) on Path1 "/x/". Run with --force if desired.', 'Bisync aborted. Please try again.'], 'P', 10);
    assert.equal(deletes.status, 'failed');
    assert.match(deletes.reason ?? '', /more than 10% of P's files on one side, so nothing was changed/);
    const access = judgeBisync(2, ['ERROR : Access test failed: Path1 count 1, Path2 count 0 - .poof-sync-check', 'Bisync critical error: check file check failed', 'Bisync aborted. Must run --resync to recover.'], 'P', 10);
    assert.match(access.reason ?? '', /\.poof-sync-check is missing on one side/);
    const lost = judgeBisync(7, ['Bisync critical error: cannot find prior Path1 or Path2 listings, likely due to critical error on prior run', 'Bisync aborted. Must run --resync to recover.'], 'P', 10);
    assert.equal(lost.needsResync, true);
    // rclone 1.60 exits 0 after some aborts: the words decide.
    assert.equal(judgeBisync(0, ['Bisync aborted. Must run --resync to recover.'], 'P', 10).status, 'failed');
    assert.match(judgeBisync(5, ['ERROR : Failed to bisync: connection refused'], 'P', 10).reason ?? '', /^rclone bisync failed \(exit 5\): Failed to bisync: connection refused/);
  });

  it('reads the pid from a bisync lock file of rclone 1.60 (the number) and 1.66+ (JSON)', () => {
    assert.equal(lockPid('6101\n'), 6101);
    assert.equal(lockPid('{"Session":"/w/a..b","PID":"6113","TimeRenewed":"2026-12-04T16:28:03Z"}'), 6113);
    assert.equal(lockPid(''), undefined);
    assert.equal(lockPid('{broken'), undefined);
    assert.equal(lockPid('-3'), undefined);
  });

  it('reads from a dry run of rclone 1.60 which copies the real run replaces or deletes, on which side', () => {
    const messages = [
      '- Path1    File was deleted                    - a.txt',
      '- Path1    File is newer                       - dir/c d.txt',
      '- Path1    File is OLDER                       - e.txt',
      '- Path1    File is new                         - n.txt',
      '- Path2    File was deleted                    - b.txt',
      '- Path2    File is newer                       - d.txt',
      '- Path2    Queue delete                        - /tmp/bd/cloud/bkt/P/a.txt',
    ];
    assert.deepEqual(plannedReplacements(messages), { remoteCopies: ['a.txt', 'dir/c d.txt', 'e.txt'], localCopies: ['b.txt', 'd.txt'], unreadable: [] });
  });

  it('reads back names rclone quotes (a quote or a backslash in them), and refuses what it cannot read exactly', () => {
    const quoted = plannedReplacements(['- Path1    File is newer - "say \\"hi\\".txt"', '- Path2    File was deleted - "back\\\\slash"', '- Path1    File is newer - "bad\\xff.txt"']);
    assert.deepEqual(quoted.remoteCopies, ['say "hi".txt']);
    assert.deepEqual(quoted.localCopies, ['back\\slash']);
    assert.deepEqual(quoted.unreadable, ['"bad\\xff.txt"']);
  });

  it('reads the files of a bisync listing (rclone 1.60 with hashes, 1.75 without)', () => {
    const listing = [
      '# bisync listing v1 from 2026-12-04T16:39:20.238865176+0000',
      '-        2 md5:60b725f10c9c85c70d97880dfe8191b3 - 2026-12-04T16:39:20.164992702+0000 "a.txt"',
      '-        8 - - 2026-12-04T16:33:47.456980542+0000 "dir/say \\"hi\\".txt"',
      '',
    ].join('\n');
    assert.deepEqual(listedFiles(listing), ['a.txt', 'dir/say "hi".txt']);
  });
});

describe('what two-way syncs kept: listing, history lines and the "keep" policy', () => {
  it('kept ids sort by start time within one second, and name their run', () => {
    const runId = '20261204T180000Z';
    const early = keptIdFor(runId, new Date('2026-12-04T18:00:00.009Z'), 0xff);
    const late = keptIdFor(runId, new Date('2026-12-04T18:00:00.120Z'), 0);
    assert.equal(early, '20261204T180000Z-009f');
    assert.ok(early < late, `${early} < ${late}`);
    assert.equal(keptIdFor(runId, new Date('2026-12-04T18:00:00.999Z'), 15), '20261204T180000Z-3e7f');
    assert.equal(runOfKeptId(late), runId);
    assert.equal(runOfKeptId('notes'), undefined);
    assert.equal(syncKeptRoot('poof-backup:bucket'), 'poof-backup:bucket/.poof-sync-kept');
    assert.equal(syncKeptRoot('poof-crypt:'), 'poof-crypt:.poof-sync-kept');
  });

  it('both sides\' listings join by sync and mapping; names poof did not give are left out', () => {
    const kept = syncKeptOf(
      [
        { Path: '20261204T180001Z-0010/P/a/b.txt', Size: 3 },
        { Path: '20261204T180000Z-0010/P/c.txt', Size: 5 },
        { Path: 'stray/P/c.txt', Size: 1 },
        { Path: '20261204T180000Z-0010/P', Size: 0 },
      ],
      [{ rel: '20261204T180000Z-0010/P/d.txt', size: 7 }, { rel: '20261204T180000Z-0010/Q/e.txt', size: 2 }],
    );
    assert.deepEqual([...kept.keys()].sort(), ['P', 'Q']);
    const runs = kept.get('P')!;
    assert.deepEqual(runs.map((r) => [r.keptId, [...r.here], [...r.remote]]), [
      ['20261204T180000Z-0010', [['d.txt', 7]], [['c.txt', 5]]],
      ['20261204T180001Z-0010', [], [['a/b.txt', 3]]],
    ]);
    const summary = summarizeSyncKept(runs[0]!, keptFolders('/d/sync-kept', 'r:b', runs[0]!.keptId, 'P'));
    assert.deepEqual([summary.here, summary.remote], [
      { files: 1, bytes: 7, folder: '/d/sync-kept/20261204T180000Z-0010/P' },
      { files: 1, bytes: 5, folder: 'r:b/.poof-sync-kept/20261204T180000Z-0010/P' },
    ]);
    const lines = formatSyncKept('P', [summary]);
    assert.equal(lines[0], 'P: 1 sync keeps what they replaced or deleted (two-way; `poof versions PATH` for one file)');
    assert.match(lines[1]!, /^ {2}20261204T180000Z-0010 .* here: 1 file \(7 B\) in \/d\/sync-kept\/\S+; remote: 1 file \(5 B\) in r:b\/\.poof-sync-kept\//);
    assert.deepEqual(formatSyncKept('P', []), []);
  });

  it('"keep" keeps the folders the kept syncs\' states need: the first folder after a kept sync that holds a file, on each side', () => {
    const run = (keptId: string, here: Record<string, number>, remote: Record<string, number>) => ({ keptId, runId: runOfKeptId(keptId)!, here: new Map(Object.entries(here)), remote: new Map(Object.entries(remote)) });
    const a = run('20261201T100000Z-0001', { a: 1 }, {});
    // F's version of day 1 was replaced on the remote at 08:00, and that one again at 09:00.
    const b = run('20261204T080000Z-0000', {}, { F: 2 });
    const c = run('20261204T090000Z-0000', {}, { F: 3 });
    const d = run('20261204T100000Z-0000', { g: 4 }, {});
    const options = { now: Date.parse('2026-12-04T12:00:00Z'), timeZoneOffset: () => 0 };
    const daily = planSyncKeptPrune('P', [d, c, b, a], { daily: 2 }, options);
    assert.deepEqual([daily.removed, daily.kept], [[c.keptId], [a.keptId, b.keptId, d.keptId]], 'day 1\'s state keeps F from the 08:00 folder; only the 09:00 one goes');
    assert.deepEqual([daily.removedFiles, daily.freedBytes], [1, 3]);
    // Only the newest: its own folder (the state just before it) stays, the rest goes.
    const last = planSyncKeptPrune('P', [a, b, c, d], { last: 1 }, { ...options, protect: new Set([d.keptId]) });
    assert.deepEqual(last.removed, [a.keptId, b.keptId, c.keptId]);
    // A folder dated past now (another clock) is neither counted nor removed.
    const future = run('20270101T000000Z-0000', { x: 9 }, {});
    const skewed = planSyncKeptPrune('P', [a, b, c, d, future], { last: 2 }, options);
    assert.deepEqual(skewed.kept, [c.keptId, d.keptId, future.keptId], 'c and d are the last two');
    assert.deepEqual(planSyncKeptPrune('P', [], { last: 1 }, options).removed, []);
    assert.deepEqual(formatSyncKeptPrune(daily, true), ['P: two-way syncs: would remove the keep folders of 1 sync (1 file, 3 B freed); 3 kept']);
  });
});
