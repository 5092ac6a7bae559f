import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answer, startPoof, textOf } from '../helpers/background.js';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';
import { readTree } from '../helpers/tree.js';

/**
 * Two configs on one bucket, each with its own crypt keys. rclone lists a crypt remote opened
 * with other keys as empty; without a key proof the second would write a second encrypted tree.
 */
describe('a crypt remote with other keys on the same bucket', () => {
  let first: Sandbox;
  let second: Sandbox;
  let cloud: string;
  const bucketDir = () => path.join(cloud, 'shared');

  before(async () => {
    first = await makeSandbox();
    second = await makeSandbox();
    cloud = path.join(first.dir, 'cloud');
    for (const sb of [first, second]) {
      const docs = path.join(sb.home, 'Docs');
      await mkdir(docs, { recursive: true });
      await writeFile(path.join(docs, `${sb === first ? 'first' : 'second'}.txt`), 'data\n');
      assert.equal((await runPoof(['config', '--map', `${docs}=Docs`, '--bucket', 'shared'], { env: sb.env })).code, 0);
    }
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--crypt'], { env: first.env })).code, 0);
    const made = await runPoof(['cconfig', '--provider', 'local', '--root', cloud, '--crypt', '--passphrase-stdin'], { env: second.env, input: 'another passphrase entirely\n' });
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => {
    await first.cleanup();
    await second.cleanup();
  });

  it('the first backup onto an empty crypt remote writes the canary with the data', async () => {
    const result = await runPoof(['backup'], { env: first.env });
    assert.equal(result.code, 0, result.stderr);
    const verify = await runPoof(['verify'], { env: first.env });
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /encryption keys: the keys decrypt the stored names \(.*\.poof-canary.*\)/);
  });

  it('backup, upload and download with the other keys refuse and write nothing; verify fails', async () => {
    const stored = await readTree(bucketDir());
    const top = await readdir(bucketDir());
    for (const args of [['backup'], ['upload', '--yes'], ['download', '--yes']]) {
      const result = await runPoof(args, { env: second.env });
      assert.equal(result.code, 1, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /cannot decrypt: wrong password or not a poof crypt remote .*; nothing was changed; restore the right keys with `poof key import FILE`/);
    }
    assert.deepEqual(await readdir(bucketDir()), top, 'no second encrypted tree');
    assert.deepEqual(await readTree(bucketDir()), stored);
    assert.equal((await runPoof(['verify'], { env: second.env })).code, 4);
    assert.equal((await runPoof(['verify'], { env: first.env })).code, 0, 'the first keys still work');
    assert.deepEqual(await readdir(path.join(second.home, 'Docs')), ['second.txt'], 'nothing local was touched');
  });
});

describe('cconfig --crypt --force over keys that still decrypt data', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await makeSandbox();
    await backUpEncrypted(sb);
  });
  after(() => sb.cleanup());

  it('is refused without a terminal unless --replace-keys; then the old file is kept, 0600, and says where', async () => {
    const conf = path.join(sb.confdir, 'rclone-poof.conf');
    const before = await readFile(conf, 'utf8');
    const refused = await runPoof(['cconfig', '--crypt', '--force'], { env: sb.env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /the current crypt keys decrypt data on the remote \(the keys decrypt the stored names .*\); new keys make it unreadable .*; nothing was written; export them with `poof key export FILE`, then add --replace-keys/);
    assert.equal(await readFile(conf, 'utf8'), before);
    assert.deepEqual((await readdir(sb.confdir)).filter((n) => n.includes('.replaced-')), []);

    const replaced = await runPoof(['cconfig', '--crypt', '--force', '--replace-keys'], { env: sb.env });
    assert.equal(replaced.code, 0, replaced.stderr);
    const kept = (await readdir(sb.confdir)).filter((n) => n.startsWith('rclone-poof.conf.replaced-'));
    assert.equal(kept.length, 1);
    assert.match(replaced.stderr, new RegExp(`the replaced keys are kept in .*${kept[0]!.replace(/[.]/g, '\\.')} \\(mode 600\\)`));
    assert.equal(await readFile(path.join(sb.confdir, kept[0]!), 'utf8'), before);
    assert.equal((await stat(path.join(sb.confdir, kept[0]!))).mode & 0o777, 0o600);
    assert.notEqual(await readFile(conf, 'utf8'), before, 'new keys were written');
  });
});

/** The names rclone shows through a crypt remote at the top of the bucket. */
function listThroughCrypt(sb: Sandbox, remote: string): string[] {
  const out = execFileSync('rclone', ['lsf', `${remote}:`, '--config', path.join(sb.confdir, 'rclone-poof.conf'), '--max-depth', '1'], { env: { PATH: process.env.PATH ?? '' } });
  return out.toString().split('\n').filter((l) => l !== '').sort();
}

const keptCopies = async (sb: Sandbox) => (await readdir(sb.confdir)).filter((n) => n.startsWith('rclone-poof.conf.replaced-'));

describe('a plain tree left by cryptoggle, from a mapping poof.conf no longer has', () => {
  let sb: Sandbox;
  let cloud: string;
  let plainTree: Map<string, Buffer>;
  const bucketDir = () => path.join(cloud, 'shared');
  before(async () => {
    sb = await makeSandbox();
    cloud = path.join(sb.dir, 'cloud');
    const docs = path.join(sb.home, 'Docs');
    const fresh = path.join(sb.home, 'Fresh');
    await mkdir(docs, { recursive: true });
    await mkdir(fresh, { recursive: true });
    await writeFile(path.join(docs, 'old.txt'), 'backed up in the clear\n');
    await writeFile(path.join(fresh, 'new.txt'), 'backed up encrypted\n');
    for (const args of [
      ['config', '--map', `${docs}=Docs`, '--bucket', 'shared'],
      ['cconfig', '--provider', 'local', '--root', cloud],
      ['backup'],
      ['cconfig', '--crypt'],
      ['config', '--unmap', 'Docs', '--map', `${fresh}=Fresh`, '--force'],
    ]) {
      const result = await runPoof(args, { env: sb.env });
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    }
    plainTree = await readTree(path.join(bucketDir(), 'Docs'));
  });
  after(() => sb.cleanup());

  it('is not taken for other keys: the crypt backup runs, writes the canary, and leaves the plain tree alone', async () => {
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(listThroughCrypt(sb, 'poof-crypt'), ['.poof-canary', '.poof-history/', 'Fresh/'], 'the crypt tree: the canary, the history of past runs, the mapping');
    const top = await readdir(bucketDir());
    // The plain tree (Docs and its history) beside three encrypted names (canary, history, Fresh).
    assert.equal(top.length, 5, `Docs and .poof-history beside three encrypted names: ${top.join(', ')}`);
    assert.ok(top.includes('Docs') && top.includes('.poof-history'));
    assert.equal(top.filter((n) => /^[0-9a-v]{26}$/.test(n)).length, 3, top.join(', '));
    assert.deepEqual(await readTree(path.join(bucketDir(), 'Docs')), plainTree);
  });

  it('other keys are still refused beside it', async () => {
    const replaced = await runPoof(['cconfig', '--crypt', '--force', '--replace-keys'], { env: sb.env });
    assert.equal(replaced.code, 0, replaced.stderr);
    const stored = await readTree(bucketDir());
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot decrypt: wrong password or not a poof crypt remote \(3 stored names, .*; nothing was changed/);
    assert.deepEqual(await readTree(bucketDir()), stored);
  });
});

describe('key import --force over keys that still decrypt data', () => {
  let sb: Sandbox;
  let other: Sandbox;
  let kit: string;
  before(async () => {
    sb = await makeSandbox();
    other = await makeSandbox();
    for (const box of [sb, other]) {
      const docs = path.join(box.home, 'Docs');
      await mkdir(docs, { recursive: true });
      await writeFile(path.join(docs, 'a.txt'), 'data\n');
      assert.equal((await runPoof(['config', '--map', `${docs}=Docs`, '--bucket', 'shared'], { env: box.env })).code, 0);
      assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(box.dir, 'cloud'), '--crypt'], { env: box.env })).code, 0);
    }
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    // Another machine's keys, for the same layout (the same plain remote and bucket).
    kit = path.join(other.dir, 'kit.txt');
    assert.equal((await runPoof(['key', 'export', kit], { env: other.env })).code, 0);
  });
  after(async () => {
    await sb.cleanup();
    await other.cleanup();
  });

  it('the keys already in use, imported again, replace nothing: no question, no kept copy', async () => {
    const own = path.join(sb.dir, 'own-kit.txt');
    assert.equal((await runPoof(['key', 'export', own], { env: sb.env })).code, 0);
    const again = await runPoof(['key', 'import', own, '--force'], { env: sb.env });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await keptCopies(sb), []);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0, 'the same keys still decrypt the data');
  });

  it('is refused without a terminal unless --replace-keys; then the old file is kept, 0600, and says where', async () => {
    const conf = path.join(sb.confdir, 'rclone-poof.conf');
    const before = await readFile(conf, 'utf8');
    const refused = await runPoof(['key', 'import', kit, '--force'], { env: sb.env });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /the current crypt keys decrypt data on the remote \(the keys decrypt the stored names \(.*\)\); new keys make it unreadable .*; nothing was written; export them with `poof key export FILE`, then add --replace-keys/);
    assert.equal(await readFile(conf, 'utf8'), before);
    assert.deepEqual(await keptCopies(sb), []);

    const imported = await runPoof(['key', 'import', kit, '--force', '--replace-keys'], { env: sb.env });
    assert.equal(imported.code, 0, imported.stderr);
    const kept = await keptCopies(sb);
    assert.equal(kept.length, 1);
    assert.match(imported.stderr, new RegExp(`the replaced keys are kept in .*${kept[0]!.replace(/[.]/g, '\\.')} \\(mode 600\\)`));
    assert.equal(await readFile(path.join(sb.confdir, kept[0]!), 'utf8'), before);
    assert.equal((await stat(path.join(sb.confdir, kept[0]!))).mode & 0o777, 0o600);
    assert.notEqual(await readFile(conf, 'utf8'), before, 'the kit was imported');
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 1, 'the imported keys do not decrypt what the replaced ones wrote');
    assert.match(backup.stderr, /cannot decrypt: wrong password/);
  });
});

describe('cconfig --crypt --force on a terminal asks before replacing keys that decrypt data', () => {
  let sb: Sandbox;
  let conf: string;
  before(async () => {
    sb = await makeSandbox();
    conf = path.join(sb.confdir, 'rclone-poof.conf');
    await backUpEncrypted(sb);
  });
  after(() => sb.cleanup());

  it('"no" exits 1 and writes nothing', async () => {
    const before = await readFile(conf, 'utf8');
    const run = startPoof(['cconfig', '--crypt', '--force'], sb.env, { tty: true });
    await answer(run, /Replace\s+them/, 'n\r');
    assert.equal((await run.exit).code, 1, textOf(run));
    assert.match(textOf(run), /poof: cconfig cancelled; the keys were not replaced/);
    assert.equal(await readFile(conf, 'utf8'), before);
    assert.deepEqual(await keptCopies(sb), []);
  });

  it('"yes" replaces the keys and keeps the old file, 0600, saying where', async () => {
    const before = await readFile(conf, 'utf8');
    const run = startPoof(['cconfig', '--crypt', '--force'], sb.env, { tty: true });
    await answer(run, /Replace\s+them/, 'y\r');
    assert.equal((await run.exit).code, 0, textOf(run));
    const kept = await keptCopies(sb);
    assert.equal(kept.length, 1);
    assert.match(textOf(run).replace(/\s+/g, ' '), new RegExp(`the replaced keys are kept in .*${kept[0]!.replace(/[.]/g, '\\.')} \\(mode 600\\)`));
    assert.equal(await readFile(path.join(sb.confdir, kept[0]!), 'utf8'), before);
    assert.equal((await stat(path.join(sb.confdir, kept[0]!))).mode & 0o777, 0o600);
    assert.notEqual(await readFile(conf, 'utf8'), before, 'new keys were written');
  });
});

/** One mapped directory backed up through a new crypt remote: keys that decrypt data on the remote. */
async function backUpEncrypted(sb: Sandbox): Promise<void> {
    const docs = path.join(sb.home, 'Docs');
    await mkdir(docs, { recursive: true });
    await writeFile(path.join(docs, 'a.txt'), 'data\n');
    assert.equal((await runPoof(['config', '--map', `${docs}=Docs`], { env: sb.env })).code, 0);
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud'), '--crypt'], { env: sb.env })).code, 0);
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
}
