import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
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
