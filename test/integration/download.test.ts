import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { killStarted, startPoof, waitFor } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, setConf, type Sandbox } from '../helpers/sandbox.js';
import { readTrash, readTree, readTreeMeta, setSampleMeta, writeSampleTree, type FileMeta } from '../helpers/tree.js';

describe('poof download from a local-directory remote', () => {
  let sb: Sandbox;
  let src: string;
  let remoteCopy: string;
  let original: Map<string, Buffer>;
  let originalMeta: Map<string, FileMeta>;
  before(async () => {
    sb = await makeSandbox();
    src = path.join(sb.home, 'My Files');
    await writeSampleTree(src);
    await setSampleMeta(src);
    await mkdir(path.join(src, 'empty dir'));
    original = await readTree(src);
    originalMeta = await readTreeMeta(src);
    assert.equal((await runPoof(['config', '--map', `${src}=My Files`, '--bucket', 'bkt'], { env: sb.env })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    remoteCopy = path.join(sb.dir, 'cloud', 'bkt', 'My Files');
  });
  after(() => sb.cleanup());

  /** Local changes a restore must undo: one file changed, one deleted, one added. */
  async function changeLocally(): Promise<Map<string, Buffer>> {
    await writeFile(path.join(src, 'plain.txt'), 'changed after the backup\n');
    await rm(path.join(src, 'with space.txt'));
    await writeFile(path.join(src, 'a', 'extra file.txt'), 'only local\n');
    return readTree(src);
  }

  it('--dry-run lists what it would restore, replace and delete, and changes nothing', async () => {
    const changed = await changeLocally();
    const result = await runPoof(['download', '--dry-run'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /My Files: .* <- poof-backup:bkt\/My Files \(5 files, /);
    assert.match(result.stdout, /1 new file \(6 B\) to restore; 1 local file to replace; 1 local file to delete/);
    assert.match(result.stdout, /replace {2}plain\.txt \(25 B\)/);
    assert.match(result.stdout, /delete {3}a\/extra file\.txt \(11 B\)/);
    assert.deepEqual(await readTree(src), changed);
    assert.equal((await readTrash(sb.home)).size, 0);
  });

  it('without a terminal it refuses (exit 2) unless --yes, and changes nothing', async () => {
    const before = await readTree(src);
    const result = await runPoof(['download'], { env: sb.env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /download would replace or delete 2 local files \(36 B\); nothing was changed; .*pass --yes/);
    assert.deepEqual(await readTree(src), before);
    const status = JSON.parse((await runPoof(['status', '--json', '--last', '1'], { env: sb.env })).stdout) as { runs: Array<{ exitCode: number }> };
    assert.equal(status.runs[0]?.exitCode, 2);
  });

  it('--yes restores the tree byte for byte with modes and times; what it replaced is in the trash', async () => {
    const result = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /download complete: 1 of 1 mappings restored; 2 replaced or deleted local files are in the trash/);
    assert.deepEqual(await readTree(src), original);
    assert.deepEqual(await readTreeMeta(src), originalMeta);
    const trash = await readTrash(sb.home);
    assert.equal(trash.size, 2);
    assert.equal(await readFile(trash.get(path.join(src, 'plain.txt'))!, 'utf8'), 'changed after the backup\n');
    assert.equal(await readFile(trash.get(path.join(src, 'a', 'extra file.txt'))!, 'utf8'), 'only local\n');
  });

  it('a restore with nothing to replace needs no --yes; --to restores beside, touching nothing else', async () => {
    const into = path.join(sb.dir, 'restored here');
    const trashBefore = (await readTrash(sb.home)).size;
    const result = await runPoof(['download', '--to', into], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readTree(path.join(into, 'My Files')), original);
    assert.deepEqual(await readTreeMeta(path.join(into, 'My Files')), originalMeta);
    assert.ok((await stat(path.join(into, 'My Files', 'empty dir'))).isDirectory(), 'empty directories come back');
    assert.deepEqual(await readTree(src), original);
    assert.equal((await readTrash(sb.home)).size, trashBefore);
  });

  it('--keep-dir moves replaced files into a chosen directory instead of the trash', async () => {
    await writeFile(path.join(src, 'plain.txt'), 'second change\n');
    const kept = path.join(sb.dir, 'kept');
    const result = await runPoof(['download', '--yes', '--keep-dir', kept], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await readTree(src), original);
    const keptTree = await readTree(kept);
    assert.equal(keptTree.size, 1);
    const [rel, content] = [...keptTree.entries()][0]!;
    assert.match(rel, /^My Files-.*\/plain\.txt$/);
    assert.equal(content.toString(), 'second change\n');
  });

  it('refuses a remote copy that is empty or missing, keeping every local file', async () => {
    const before = await readTree(src);
    await rm(remoteCopy, { recursive: true });
    await mkdir(remoteCopy);
    const empty = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(empty.code, 1);
    assert.match(empty.stdout + empty.stderr, /REFUSED: the remote copy at poof-backup:bkt\/My Files holds no files .*wrong password/);
    await rm(remoteCopy, { recursive: true });
    const missing = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(missing.code, 1);
    assert.match(missing.stdout + missing.stderr, /REFUSED: the remote has no copy at poof-backup:bkt\/My Files/);
    assert.equal((missing.stdout + missing.stderr).match(/REFUSED/g)?.length, 1, 'told once');
    assert.deepEqual(await readTree(src), before);
  });

  it('never restores into the home directory itself, or over poof\'s config directory', async () => {
    const confFile = path.join(sb.confdir, 'poof.conf');
    const conf = JSON.parse(await readFile(confFile, 'utf8')) as Record<string, unknown>;
    await writeFile(confFile, JSON.stringify({ ...conf, paths: { [sb.home]: 'Home' } }));
    const home = await runPoof(['download', '--yes'], { env: sb.env });
    assert.equal(home.code, 1);
    assert.match(home.stdout + home.stderr, /REFUSED: .* is your home directory itself/);
    // --to DIR restores into DIR/NAME: here that is the config directory itself.
    await writeFile(confFile, JSON.stringify({ ...conf, paths: { [src]: path.basename(sb.confdir) } }));
    const over = await runPoof(['download', '--yes', '--to', path.dirname(sb.confdir)], { env: sb.env });
    assert.equal(over.code, 1);
    assert.match(over.stdout + over.stderr, /REFUSED: .* is poof's config directory/);
    assert.ok((await readFile(confFile, 'utf8')).includes(path.basename(sb.confdir)), 'poof.conf untouched');
    await writeFile(confFile, JSON.stringify(conf));
  });
});

describe('poof download after a backup that a lost laptop never finished', () => {
  it('the remote shows the run without its record: download warns, naming the run and the restore of the last one that finished', async () => {
    const sb = await makeSandbox();
    try {
      const made = await mapLocalDirs(sb, { Docs: { 'small.txt': 'small\n' } });
      const docs = made.dirs.Docs!;
      await writeFile(path.join(docs, 'big.bin'), randomBytes(8_000_000));
      assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
      const first = (JSON.parse((await runPoof(['history', '--json'], { env: sb.env })).stdout) as { mappings: Array<{ runs: Array<{ id: string }> }> }).mappings[0]!.runs[0]!.id;
      await new Promise((r) => setTimeout(r, 1100));
      await writeFile(path.join(docs, 'big.bin'), randomBytes(8_000_000));
      await setConf(sb, (conf) => void (conf.rclone = { bwlimit: '1M' }));
      // The laptop dies mid-backup: everything of poof's is killed at once.
      const run = startPoof(['backup'], sb.env);
      const bucket = (JSON.parse(await readFile(made.paths.poofConf!, 'utf8')) as { bucket: string }).bucket;
      const historyDir = path.join(made.cloud, bucket, '.poof-history');
      const killedRun = async () => (await readdir(historyDir).catch(() => [] as string[])).find((id) => id > first && existsSync(path.join(historyDir, id, 'Docs')));
      await waitFor(async () => (await killedRun()) !== undefined, 60_000, 'the backup to move the old big.bin into its run folder');
      process.kill(-run.pid, 'SIGKILL');
      await run.exit;
      const killed = (await killedRun())!;
      assert.equal(existsSync(path.join(historyDir, killed, 'Docs.run.json.gz')), false, 'the killed run wrote no record');
      // A new laptop knows nothing of it: only the remote does.
      await rm(made.paths.stateDir!, { recursive: true, force: true });
      await setConf(sb, (conf) => void delete conf.rclone);
      const dry = await runPoof(['download', '--dry-run'], { env: sb.env });
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stderr, new RegExp(`poof: Docs: warning: the newest run on the remote \\(${killed}\\) has no record: if it was a backup that was stopped or lost with its machine, a file it was writing may be cut short .* and \`poof restore --at ${first} --only Docs\` brings back the last run that finished`));
      // The restore drill says the same: what it checks is the run before.
      const check = await runPoof(['check'], { env: sb.env });
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stderr, new RegExp(`poof: Docs: warning: the newest run on the remote \\(${killed}\\) has no record`));
      // That restore does bring back the whole file.
      const into = path.join(sb.dir, 'back');
      const restored = await runPoof(['restore', '--at', first, '--to', into], { env: sb.env });
      assert.equal(restored.code, 0, restored.stderr);
      assert.equal((await stat(path.join(into, 'Docs', 'big.bin'))).size, 8_000_000);
    } finally {
      await killStarted();
      await sb.cleanup();
    }
  });
});
