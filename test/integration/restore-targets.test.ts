import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exists } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

const NAME = 'PoofRestoreTargetTest';

describe('download --to and --keep-dir', () => {
  let sb: Sandbox;
  let dir: string;
  before(async () => {
    sb = await makeSandbox();
    dir = (await mapLocalDirs(sb, { [NAME]: { 'ab.txt': 'ab', 'keep.txt': 'same\n' } })).dirs[NAME]!;
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
  });
  after(() => sb.cleanup());

  it('refuses an empty --to, /, a file, and a directory inside a mapped one: exit 2, one line, nothing written', async () => {
    const file = path.join(sb.dir, 'a-file');
    await writeFile(file, 'not a directory\n');
    const rootLink = path.join(sb.dir, 'root-link');
    await symlink('/', rootLink);
    const cases: Array<[string, RegExp]> = [
      ['', /^poof: --to is empty; give the directory to restore into/],
      ['/', /^poof: --to \/ would restore into the root directory/],
      [file, /^poof: --to .*a-file is not a directory/],
      [path.join(file, 'sub'), /^poof: --to .*a-file\/sub cannot be created: .*a-file is not a directory/],
      [rootLink, /^poof: --to .*root-link is the root directory \(through a link\)/],
      [path.join(dir, 'inside'), /^poof: --to .*inside is inside the mapped directory /],
      [dir, /^poof: --to .* is inside the mapped directory /],
    ];
    for (const [to, message] of cases) {
      const result = await runPoof(['download', '--yes', '--to', to], { env: sb.env });
      assert.equal(result.code, 2, `--to "${to}": ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    assert.equal(await exists(`/${NAME}`), false, 'nothing was created under /');
    assert.equal(await readFile(file, 'utf8'), 'not a directory\n');
    assert.deepEqual((await readdir(dir)).sort(), ['ab.txt', 'keep.txt'], 'nothing was created inside the mapped directory');
    assert.equal(await exists(path.join(process.cwd(), NAME)), false, 'an empty --to did not restore into the working directory');
  });

  it('--to never restores into (or over) another mapping\'s directory', async () => {
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { paths: Record<string, string> };
    const other = path.join(sb.home, 'elsewhere', NAME);
    await mkdir(other, { recursive: true });
    await writeFile(path.join(other, 'mine.txt'), 'mine\n');
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify({ ...conf, paths: { ...conf.paths, [other]: 'Other' } }));
    const result = await runPoof(['download', '--yes', '--only', NAME, '--to', path.dirname(other)], { env: sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /REFUSED: .* would restore into \(or over\) the mapped directory .*elsewhere/);
    assert.deepEqual(await readdir(other), ['mine.txt']);
    await writeFile(path.join(sb.confdir, 'poof.conf'), JSON.stringify(conf));
  });

  it('a directory of the user\'s named like a staging one is backed up and never removed', async () => {
    await mkdir(path.join(dir, '.poof-restore-notes'), { recursive: true });
    await writeFile(path.join(dir, '.poof-restore-notes', 'n.txt'), 'notes\n');
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    await writeFile(path.join(dir, 'ab.txt'), 'QQ');
    const restored = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(await readFile(path.join(dir, '.poof-restore-notes', 'n.txt'), 'utf8'), 'notes\n');
    await rm(path.join(dir, '.poof-restore-notes'), { recursive: true });
    const back = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await readFile(path.join(dir, '.poof-restore-notes', 'n.txt'), 'utf8'), 'notes\n', 'it was on the remote');
    await rm(path.join(dir, '.poof-restore-notes'), { recursive: true });
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
  });

  it('--keep-dir never replaces a file it kept earlier in the same run', async () => {
    const kept = path.join(sb.dir, 'kept-twice');
    await writeFile(path.join(dir, 'ab.txt'), 'v2');
    // The same name is kept twice: once as planned, once when it reappears before its restored copy lands.
    const { keepInDir } = await import('../../src/restore/apply.js');
    const keep = keepInDir(dir, kept);
    await keep([path.join(dir, 'ab.txt')]);
    await writeFile(path.join(dir, 'ab.txt'), 'v3');
    await keep([path.join(dir, 'ab.txt')]);
    assert.equal(await readFile(path.join(kept, 'ab.txt'), 'utf8'), 'v2');
    assert.equal(await readFile(path.join(kept, 'ab.txt.~1~'), 'utf8'), 'v3');
    assert.equal((await runPoof(['download', '--yes'], { env: sb.env })).code, 0);
  });

  it('--keep-dir: counts and the kept directory match what happened on disk', async () => {
    const kept = path.join(sb.dir, 'kept');
    await writeFile(path.join(dir, 'ab.txt'), 'XY');
    const result = await runPoof(['download', '--yes', '--keep-dir', kept, '--json'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as { mappings: Array<{ result: { copied: number; deleted: number; trashed: number; keptIn?: string; stats: { bytes: number } } }> };
    const restored = json.mappings[0]!.result;
    assert.deepEqual([restored.copied, restored.stats.bytes, restored.deleted, restored.trashed], [1, 2, 0, 1]);
    assert.ok(restored.keptIn && (await stat(restored.keptIn)).isDirectory(), 'keptIn exists');
    assert.equal(await readFile(path.join(restored.keptIn, 'ab.txt'), 'utf8'), 'XY');
    assert.equal(await readFile(path.join(dir, 'ab.txt'), 'utf8'), 'ab');

    const text = await runPoof(['download', '--yes', '--keep-dir', path.join(sb.dir, 'kept-2')], { env: sb.env });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${NAME}: ok: restored 0 files \\(0 B\\), deleted locally 0, 0 errors`));
    assert.equal(await exists(path.join(sb.dir, 'kept-2')), false, 'no kept directory when nothing was kept');
  });

  it('a folder linked to another file system: the restore stops with one clear reason, nothing under a real name, and stays unfinished', async () => {
    // /dev/shm is a file system of its own on Linux: a restored file cannot be moved there by a rename.
    const elsewhere = await mkdtemp('/dev/shm/poof-restore-test-');
    try {
      assert.notEqual((await stat(elsewhere)).dev, (await stat(dir)).dev, 'the test needs /dev/shm on another file system');
      await writeFile(path.join(elsewhere, 'far.txt'), 'far away\n');
      await symlink(elsewhere, path.join(dir, 'linked'));
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      await rm(path.join(elsewhere, 'far.txt'));
      const result = await runPoof(['download', '--yes', '--only', NAME], { env: sb.env });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /FAILED: linked\/far\.txt is on another file system than .* \(a disk mounted inside the mapping\): poof cannot move restored files there safely; restore with --to DIR/);
      assert.doesNotMatch(result.stderr, /unexpected error/);
      assert.deepEqual(await readdir(elsewhere), [], 'nothing under the real name');
      const refused = await runPoof(['backup', '--only', NAME], { env: sb.env });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /REFUSED: .*restore .*did not finish/);
      const into = path.join(sb.dir, 'restored-elsewhere');
      assert.equal((await runPoof(['download', '--yes', '--only', NAME, '--to', into], { env: sb.env })).code, 0);
      assert.equal(await readFile(path.join(into, NAME, 'linked', 'far.txt'), 'utf8'), 'far away\n');
    } finally {
      await rm(path.join(dir, 'linked'), { force: true });
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
