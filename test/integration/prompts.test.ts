import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { answer, exists, startPoof, textOf, typeAfter, type Background } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

describe('questions on a terminal: Ctrl-C cancels (exit 130), "no" declines (exit 1), nothing is written', () => {
  let sb: Sandbox;
  let docs: string;
  let paths: Record<string, string>;
  before(async () => {
    sb = await makeSandbox();
    const backup = await mapLocalDirs(sb, { Docs: { 'a.txt': 'original\n' } });
    paths = backup.paths;
    docs = backup.dirs.Docs!;
    assert.equal((await runPoof(['backup'], { env: sb.env })).code, 0);
    // A local change the restore would replace, so it has to ask.
    await writeFile(path.join(docs, 'a.txt'), 'changed locally\n');
  });
  after(() => sb.cleanup());

  const lastRecord = async () => JSON.parse((await readFile(paths.historyFile!, 'utf8')).trim().split('\n').at(-1)!) as { command: string; status: string; exitCode: number };

  for (const [keys, code, word] of [['\x03', 130, 'Ctrl-C'], ['n\r', 1, '"no"']] as const) {
    it(`download: ${word} at the confirmation exits ${code} and replaces nothing`, async () => {
      const run = startPoof(['download'], sb.env, { tty: true });
      await answer(run, /Restore, replacing or deleting 1 local file/, keys);
      const exit = await run.exit;
      assert.equal(exit.code, code, textOf(run));
      assert.match(textOf(run), code === 130 ? /poof: cancelled; nothing was changed/ : /poof: download cancelled; nothing was changed/);
      assert.doesNotMatch(textOf(run), /unexpected error|this is a bug|force closed/);
      assert.equal(await readFile(path.join(docs, 'a.txt'), 'utf8'), 'changed locally\n');
      assert.deepEqual([(await lastRecord()).command, (await lastRecord()).exitCode, (await lastRecord()).status], ['download', code, 'cancelled']);
      assert.equal(await exists(paths.lockFile!), false);
    });

    it(`upload: ${word} at the confirmation exits ${code} and wipes nothing`, async () => {
      const run = startPoof(['upload'], sb.env, { tty: true });
      await answer(run, /Upload, prove and then wipe up to 1 local file/, keys);
      const exit = await run.exit;
      assert.equal(exit.code, code, textOf(run));
      assert.doesNotMatch(textOf(run), /unexpected error|this is a bug|force closed/);
      assert.equal(await readFile(path.join(docs, 'a.txt'), 'utf8'), 'changed locally\n');
      assert.equal((await lastRecord()).exitCode, code);
    });
  }

  it('Ctrl-D (end of input) at a question is a cancellation too: exit 130, recorded, unlocked', async () => {
    const run = startPoof(['download'], sb.env, { tty: true });
    await answer(run, /Restore, replacing or deleting 1 local file/, '\x04');
    const exit = await run.exit;
    assert.equal(exit.code, 130, textOf(run));
    assert.match(textOf(run), /poof: cancelled; nothing was changed/);
    assert.equal(await exists(paths.lockFile!), false);
    assert.deepEqual([(await lastRecord()).command, (await lastRecord()).status], ['download', 'cancelled']);
    assert.equal(await readFile(path.join(docs, 'a.txt'), 'utf8'), 'changed locally\n');
    const wizard = startPoof(['config'], sb.env, { tty: true });
    await answer(wizard, /What next\?/, '\x04');
    assert.equal((await wizard.exit).code, 130, textOf(wizard));
  });

  it('config wizard: Ctrl-C exits 130 and leaves poof.conf as it was', async () => {
    const before = await readFile(paths.poofConf!, 'utf8');
    const run = startPoof(['config'], sb.env, { tty: true });
    await answer(run, /What next\?/, '\x03');
    assert.equal((await run.exit).code, 130, textOf(run));
    assert.match(textOf(run), /poof: cancelled; nothing was changed/);
    assert.doesNotMatch(textOf(run), /unexpected error|this is a bug/);
    assert.equal(await readFile(paths.poofConf!, 'utf8'), before);
  });

  it('config with flags: "no" to changing poof.conf exits 1 and writes nothing', async () => {
    const before = await readFile(paths.poofConf!, 'utf8');
    const run = startPoof(['config', '--exclude', '*.tmp'], sb.env, { tty: true });
    await answer(run, /Change .*poof\.conf\?/, 'n\r');
    assert.equal((await run.exit).code, 1, textOf(run));
    assert.match(textOf(run), /config cancelled; nothing was written/);
    assert.equal(await readFile(paths.poofConf!, 'utf8'), before);
  });

  it('cconfig: "no" to replacing the section exits 1 with one line and leaves rclone-poof.conf byte for byte', async () => {
    const before = await readFile(paths.rcloneConf!);
    const otherRoot = path.join(sb.dir, 'other-cloud');
    const run = startPoof(['cconfig', '--provider', 'local', '--root', otherRoot], sb.env, { tty: true });
    await typeAfter(run, /Replace the existing \[poof-backup\] section\?/, 'n', '\r');
    assert.equal((await run.exit).code, 1, textOf(run));
    const lines = textOf(run).split(/\r?\n|\r/).map((line) => line.trim()).filter((line) => line !== '' && !line.includes('Replace the existing'));
    assert.deepEqual(lines, ['poof: cconfig cancelled; nothing was written']);
    assert.deepEqual(await readFile(paths.rcloneConf!), before);
    assert.equal(await exists(otherRoot), false, 'the new root is not made either');
  });

  /** Start the wizard and add a mapping, so that saving would change poof.conf. */
  async function wizardWithNewMapping(): Promise<Background> {
    const extra = path.join(sb.home, 'Extra');
    await mkdir(extra, { recursive: true });
    const run = startPoof(['config'], sb.env, { tty: true });
    await typeAfter(run, /What next\?/, 'A', '\r');
    await typeAfter(run, /Local directory/, extra, '\r');
    await typeAfter(run, /Name of its copy on the remote/, '\r');
    await typeAfter(run, /Extra {2}-> {2}Extra[^]*What next\?/);
    return run;
  }

  it('config wizard: "Quit without saving" after adding a directory exits 1 and leaves poof.conf as it was', async () => {
    const before = await readFile(paths.poofConf!);
    const run = await wizardWithNewMapping();
    await typeAfter(run, /Quit without saving/, 'Q', '\r');
    assert.equal((await run.exit).code, 1, textOf(run));
    assert.match(textOf(run), /poof: config cancelled; nothing was written/);
    assert.deepEqual(await readFile(paths.poofConf!), before);
  });

  it('config wizard: "no" to overwriting poof.conf after adding a directory exits 1 and leaves it as it was', async () => {
    const before = await readFile(paths.poofConf!);
    const run = await wizardWithNewMapping();
    await typeAfter(run, /Save and quit/, 'S', '\r');
    await typeAfter(run, /Overwrite the existing poof\.conf\?/, 'n', '\r');
    assert.equal((await run.exit).code, 1, textOf(run));
    assert.match(textOf(run), /poof: config cancelled; nothing was written/);
    assert.deepEqual(await readFile(paths.poofConf!), before);
  });

  it('cconfig: Ctrl-C at the secret prompt exits 130 and leaves rclone-poof.conf as it was', async () => {
    const before = await readFile(paths.rcloneConf!, 'utf8');
    const run = startPoof(['cconfig', '--provider', 'webdav', '--url', 'http://127.0.0.1:9/dav', '--user', 'u', '--force'], sb.env, { tty: true });
    await answer(run, /[Pp]assword/, '\x03');
    assert.equal((await run.exit).code, 130, textOf(run));
    assert.match(textOf(run), /poof: cancelled; nothing was changed/);
    assert.equal(await readFile(paths.rcloneConf!, 'utf8'), before);
  });
});
