import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { nanosOf, recordFromListing, type SentRecord } from '../../src/engine/sent-record.js';
import { walkLocalTree } from '../../src/fs/local-tree.js';
import { STAGING_EXCLUDE, STAGING_NAME } from '../../src/rclone/args.js';
import { copyDict } from '../../src/dict.js';

const run = promisify(execFile);

/** rclone's own listing, with the flags a backup's listing of its source uses. */
async function rcloneListing(dir: string, linkFlag: string): Promise<SentRecord> {
  // A broken link is an error to rclone (exit 3 with --copy-links), after a full listing.
  const { stdout } = await run('rclone', ['lsjson', dir, '-R', '--files-only', '-M', linkFlag, '--exclude', STAGING_EXCLUDE, '--config', '/dev/null'], { maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout: string }) => error);
  return recordFromListing(stdout, true);
}

/** Times as instants: rclone and the walk spell them differently. */
const comparable = (record: SentRecord) => Object.fromEntries(Object.entries(record).map(([file, [size, time, mode]]) => [file, [size, String(nanosOf(time)), mode]]));

describe('poof\'s own walk of a source lists what rclone lists', () => {
  let dir: string;
  let tree: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'poof-walk-'));
    tree = path.join(dir, 'tree');
    const files: Record<string, string> = {
      'top.txt': 'top\n',
      'with space/and more.md': 'spaces\n',
      'unicode/été 日本.txt': 'unicode\n',
      'deep/a/b/c/d/e.bin': 'deep\n',
      '.hidden/.dotfile': 'dot\n',
      '.poof-restore-notes/kept.txt': 'a user\'s own folder of that name\n',
      '.poof-restore-0123abcd/staged.txt': 'a restore\'s staging: never backed up\n',
      'empty.txt': '',
    };
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(tree, rel)), { recursive: true });
      await writeFile(path.join(tree, rel), content);
    }
    await mkdir(path.join(tree, 'empty-dir'));
    await chmod(path.join(tree, 'top.txt'), 0o600);
    await chmod(path.join(tree, 'deep/a/b/c/d/e.bin'), 0o755);
    // A time with nanoseconds, and one before 1970.
    await utimes(path.join(tree, 'with space/and more.md'), 1_700_000_000.123456, 1_700_000_000.123456);
    await utimes(path.join(tree, 'empty.txt'), -86_400.5, -86_400.5);
    const outside = path.join(dir, 'outside');
    await mkdir(outside);
    await writeFile(path.join(outside, 'linked.txt'), 'through a link\n');
    await symlink(path.join(outside, 'linked.txt'), path.join(tree, 'file-link.txt'));
    await symlink(outside, path.join(tree, 'dir-link'));
    await symlink(path.join(dir, 'nowhere'), path.join(tree, 'broken-link'));
    await run('mkfifo', [path.join(tree, 'a-fifo')]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('following links (--copy-links): the same files, sizes, times to the nanosecond and modes', async () => {
    const walked = await walkLocalTree(tree, { followLinks: true, skipTop: STAGING_NAME });
    assert.ok(walked, 'the walk vouches for this tree');
    const ours: SentRecord = walked;
    assert.deepEqual(comparable(ours), comparable(await rcloneListing(tree, '--copy-links')));
    assert.ok(ours['dir-link/linked.txt'] && ours['file-link.txt'] && !ours['.poof-restore-0123abcd/staged.txt'] && ours['.poof-restore-notes/kept.txt']);
    assert.equal(ours['top.txt']![2], '100600');
  });

  it('without modes (storage that keeps none): the same files, sizes and times, no modes', async () => {
    const withModes = await walkLocalTree(tree, { followLinks: true, skipTop: STAGING_NAME });
    const without = await walkLocalTree(tree, { followLinks: true, skipTop: STAGING_NAME, modes: false });
    assert.ok(withModes && without);
    assert.deepEqual(without, copyDict(Object.fromEntries(Object.entries(withModes).map(([file, [size, time]]) => [file, [size, time]]))));
  });

  it('skipping links (--skip-links): the same', async () => {
    const walked = await walkLocalTree(tree, { followLinks: false, skipTop: STAGING_NAME });
    assert.ok(walked);
    assert.deepEqual(comparable(walked), comparable(await rcloneListing(tree, '--skip-links')));
  });

  it('leaves a tree with a name rclone spells differently to rclone', async () => {
    const odd = path.join(dir, 'odd');
    await mkdir(odd);
    await writeFile(path.join(odd, 'a\uFF0Fb.txt'), 'fullwidth slash\n');
    assert.equal(await walkLocalTree(odd, { followLinks: true }), undefined);
    assert.equal(await walkLocalTree(path.join(dir, 'missing'), { followLinks: true }), undefined);
  });
});
