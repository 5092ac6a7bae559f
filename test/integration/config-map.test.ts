import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPoof, typeAfter } from '../helpers/background.js';
import { makeSandbox, runPoof, type Sandbox } from '../helpers/sandbox.js';

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `poof config --map DIR[=NAME]` through the real CLI: the last "=" separates DIR from NAME, and
 * every refusal is one line naming --map, exit 2, with poof.conf left as it was.
 */
describe('poof config --map with "=" in paths, bad names and files', () => {
  let sb: Sandbox;
  let conf: string;
  let docs: string;
  let withEq: string;
  before(async () => {
    sb = await makeSandbox();
    conf = path.join(sb.confdir, 'poof.conf');
    docs = path.join(sb.home, 'Documents');
    withEq = path.join(sb.home, 'w', 'a=b');
    await mkdir(docs, { recursive: true });
    await mkdir(withEq, { recursive: true });
    await writeFile(path.join(sb.home, 'notes.txt'), 'not a directory\n');
    const first = await runPoof(['config', '--map', `${docs}=Documents`], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => sb.cleanup());

  async function assertRefused(arg: string, message: RegExp): Promise<void> {
    const before = await readFile(conf, 'utf8');
    const result = await runPoof(['config', '--map', arg, '--force'], { env: sb.env });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr.split('\n').filter(Boolean).length, 1, result.stderr);
    assert.match(result.stderr, /^poof: --map "/);
    assert.match(result.stderr, message);
    assert.equal(await readFile(conf, 'utf8'), before, 'poof.conf unchanged');
  }

  it('config maps a directory whose name contains "=" when the name is given', async () => {
    const result = await runPoof(['config', '--map', `${withEq}=AB`, '--force'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    const paths = (JSON.parse(await readFile(conf, 'utf8')) as { paths: Record<string, string> }).paths;
    assert.deepEqual(paths, { [docs]: 'Documents', [withEq]: 'AB' });
    assert.doesNotMatch(result.stderr, /warning/);
  });

  it('config refuses a directory containing "=" given without a name, naming the fix', async () => {
    await assertRefused(
      withEq,
      new RegExp(literal(`${path.join(sb.home, 'w', 'a')} does not exist, but ${withEq} does; the last "=" starts the name, so give it one: --map "${withEq}=NAME"`)),
    );
  });

  it('config refuses a "/" after the last "=" instead of reading it as a path', async () => {
    await assertRefused('/dir=bad/name', /^poof: --map "\/dir=bad\/name": the name after the last "=" cannot contain "\/"; .*--map "\/dir=bad\/name=NAME"$/m);
  });

  it('config refuses an empty, "..", and "\\" name after the last "="', async () => {
    await assertRefused(`${docs}=`, /the name after the last "=" is empty; the last "=" starts NAME/);
    await assertRefused(`${docs}=..`, /the name after the last "=" cannot be "\." or "\.\."/);
    await assertRefused(`${docs}=a\\b`, /the name after the last "=" cannot contain "\\"/);
  });

  it('config refuses a file and anything else that is not a directory', async () => {
    const file = path.join(sb.home, 'notes.txt');
    await assertRefused(file, new RegExp(`^${literal(`poof: --map "${file}": ${file} is a file; --map takes a directory`)}$`, 'm'));
    await assertRefused(`${file}=Notes`, /notes\.txt is a file; --map takes a directory/);
    await assertRefused('/dev/null=Null', /^poof: --map "\/dev\/null=Null": \/dev\/null is not a directory; --map takes a directory$/m);
  });

  it('config writes no poof.conf at all when the first --map is refused', async () => {
    const fresh = { ...sb.env, POOF_CONFIG_DIR: path.join(sb.dir, 'fresh-conf') };
    const result = await runPoof(['config', '--map', path.join(sb.home, 'notes.txt')], { env: fresh });
    assert.equal(result.code, 2);
    await assert.rejects(readFile(path.join(sb.dir, 'fresh-conf', 'poof.conf'), 'utf8'), { code: 'ENOENT' });
  });

  it('config still maps a directory that does not exist yet, with a warning', async () => {
    const disk = path.join(sb.home, 'not-mounted');
    const result = await runPoof(['config', '--map', `${disk}=Disk`, '--force'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(literal(`warning: ${disk} does not exist (or is not mounted)`)));
    const paths = (JSON.parse(await readFile(conf, 'utf8')) as { paths: Record<string, string> }).paths;
    assert.equal(paths[disk], 'Disk');
  });

  it('config --map of a folder that holds poof\'s own state warns, naming the exclude that leaves it out; with it, no warning', async () => {
    const stateDir = (JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as { stateDir: string }).stateDir;
    assert.ok(stateDir.startsWith(`${sb.home}/`), stateDir);
    const rel = path.relative(sb.home, stateDir);
    const mapped = await runPoof(['config', '--map', `${sb.home}=Home`, '--force'], { env: sb.env });
    assert.equal(mapped.code, 0, mapped.stderr);
    assert.match(mapped.stderr, new RegExp(literal(`poof: warning: ${sb.home} holds poof's own state folder (${stateDir}), which every backup would copy along and find changed; leave it out with \`poof config --exclude '/${rel}/**' --force\``)));
    const excluded = await runPoof(['config', '--exclude', `/${rel}/**`, '--force'], { env: sb.env });
    assert.equal(excluded.code, 0, excluded.stderr);
    assert.doesNotMatch(excluded.stderr, /own state folder/);
    const confData = JSON.parse(await readFile(conf, 'utf8')) as { paths: Record<string, string>; excludes?: string[] };
    delete confData.paths[sb.home];
    delete confData.excludes;
    await writeFile(conf, JSON.stringify(confData));
  });

  it('config --remote naming a section rclone-poof.conf lacks is written, with a warning naming the sections it has', async () => {
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'cloud')], { env: sb.env })).code, 0);
    const named = await runPoof(['config', '--remote', 'nosuch', '--force'], { env: sb.env });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stderr, /poof: warning: \S+rclone-poof\.conf has no \[nosuch\] section, so runs stop with exit 3 until `poof cconfig --provider P` writes it \(it has: poof-backup\)/);
    const back = await runPoof(['config', '--remote', 'poof-backup', '--force'], { env: sb.env });
    assert.equal(back.code, 0, back.stderr);
    assert.doesNotMatch(back.stderr, /section/);
  });
});

describe('the config wizard on a terminal with "=" in a directory name', () => {
  let sb: Sandbox;
  before(async () => {
    sb = await makeSandbox();
  });
  after(() => sb.cleanup());

  it('maps ~/w/a=b under its whole path, named "a=b" as offered, and backs it up under that name', async () => {
    const withEq = path.join(sb.home, 'w', 'a=b');
    await mkdir(withEq, { recursive: true });
    await writeFile(path.join(withEq, 'x.txt'), 'x\n');
    const run = startPoof(['config'], sb.env, { tty: true });
    // "A" picks "Add a directory" by its first letter, Enter takes it.
    await typeAfter(run, /What next\?/, 'A', '\r');
    await typeAfter(run, /Local directory/, '~/w/a=b', '\r');
    // The offered name is the directory's own; Enter accepts it.
    await typeAfter(run, /Name of its copy on the remote/, '\r');
    await typeAfter(run, new RegExp(`${literal(`${withEq}  ->  a=b`)}[^]*What next\\?`), 'S', '\r');
    const exit = await run.exit;
    const shown = run.stdout().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    assert.equal(exit.code, 0, shown);
    assert.match(shown, new RegExp(`poof: wrote ${literal(path.join(sb.confdir, 'poof.conf'))}`));
    const paths = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { paths: Record<string, string> }).paths;
    assert.deepEqual(paths, { [withEq]: 'a=b' });
    const cloud = path.join(sb.dir, 'cloud');
    assert.equal((await runPoof(['cconfig', '--provider', 'local', '--root', cloud], { env: sb.env })).code, 0);
    const backup = await runPoof(['backup', '--json'], { env: sb.env });
    assert.equal(backup.code, 0, backup.stderr);
    const bucket = (JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string }).bucket;
    assert.equal(await readFile(path.join(cloud, bucket, 'a=b', 'x.txt'), 'utf8'), 'x\n');
  });
});
