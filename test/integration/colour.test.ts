import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPoof, typeAfter } from '../helpers/background.js';
import { makeSandbox, mapLocalDirs, runPoof, type Sandbox } from '../helpers/sandbox.js';

const ESC = '\x1b[';
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Colour codes (SGR), not the cursor movement a terminal display also uses. */
const COLOUR = /\x1b\[[0-9;]*m/;

describe('colours: on a terminal unless NO_COLOR or --no-color; never in pipes', () => {
  let sb: Sandbox;
  let colourEnv: Record<string, string>;
  let paths: Record<string, string>;
  before(async () => {
    sb = await makeSandbox();
    colourEnv = { ...sb.env };
    delete colourEnv.NO_COLOR;
    // chalk turns colours off under a CI variable (CI=true) even on a terminal; a user's terminal has none.
    delete colourEnv.CI;
    ({ paths } = await mapLocalDirs(sb, { Docs: { 'a.txt': 'a\n' } }));
  });
  after(() => sb.cleanup());

  const onTerminal = async (args: string[], env: Record<string, string>) => {
    const run = startPoof(args, env, { tty: true });
    const { code } = await run.exit;
    return { code, output: run.stdout() + run.stderr() };
  };

  it('an error on a terminal is red; with NO_COLOR=1 or --no-color it has no colour codes', async () => {
    const bad = ['backup', '--only', 'Nope'];
    const red = await onTerminal(bad, colourEnv);
    assert.equal(red.code, 2);
    assert.match(red.output, /\x1b\[31mpoof:/);
    for (const [args, env] of [[bad, sb.env], [['--no-color', ...bad], colourEnv]] as const) {
      const plain = await onTerminal([...args], env);
      assert.equal(plain.code, 2);
      assert.match(plain.output, /poof: --only "Nope" is not a mapping/);
      assert.doesNotMatch(plain.output, COLOUR, JSON.stringify(plain.output));
    }
  });

  it('the task list and verify are coloured on a terminal, and not with NO_COLOR=1 or --no-color', async () => {
    const coloured = await onTerminal(['verify', '--offline'], colourEnv);
    assert.match(coloured.output, COLOUR);
    const list = await onTerminal(['backup'], colourEnv);
    assert.equal(list.code, 0, list.output);
    assert.match(list.output, COLOUR);
    for (const [args, env] of [[['verify', '--offline'], sb.env], [['--no-color', 'verify', '--offline'], colourEnv], [['backup'], sb.env], [['--no-color', 'backup'], colourEnv]] as const) {
      const result = await onTerminal([...args], env);
      assert.doesNotMatch(result.output, COLOUR, `${args.join(' ')}: ${JSON.stringify(result.output.slice(0, 300))}`);
    }
  });

  it('questions are coloured on a terminal, and not with NO_COLOR=1 or --no-color', async () => {
    const questions = [
      // A yes/no question (the prompt library's confirm), answered "no".
      { args: ['cconfig', '--provider', 'local', '--root', path.join(sb.dir, 'other')], text: 'Replace the existing [poof-backup] section?', keys: ['n', '\r'] },
      // A choice (its select): the wizard's menu, left without saving.
      { args: ['config'], text: 'What next?', keys: ['Q', '\r'] },
    ];
    for (const { args, text, keys } of questions) {
      const question = new RegExp(literal(text));
      const coloured = startPoof(args, colourEnv, { tty: true });
      await typeAfter(coloured, question, ...keys);
      assert.equal((await coloured.exit).code, 1, coloured.stdout());
      // The library's blue "?" and bold text, as the question is drawn before any answer.
      assert.match(coloured.stdout(), new RegExp(`\\x1b\\[34m\\?\\x1b\\[39m \\x1b\\[1m${literal(text)}`), `${args[0]}: ${JSON.stringify(coloured.stdout())}`);
      for (const [plainArgs, env] of [[args, sb.env], [['--no-color', ...args], colourEnv]] as const) {
        const plain = startPoof([...plainArgs], env, { tty: true });
        await typeAfter(plain, question, ...keys);
        assert.equal((await plain.exit).code, 1, plain.stdout());
        const output = plain.stdout() + plain.stderr();
        assert.match(output, new RegExp(`\\? ${literal(text)}`), 'the question was on screen');
        assert.doesNotMatch(output, COLOUR, `${plainArgs.join(' ')}: ${JSON.stringify(output)}`);
      }
    }
  });

  it('on a terminal, a refused mapping\'s line still names the mapping', async () => {
    const conf = JSON.parse(await readFile(paths.poofConf!, 'utf8')) as { paths: Record<string, string> };
    await writeFile(paths.poofConf!, JSON.stringify({ ...conf, paths: { ...conf.paths, [`${sb.home}/Gone`]: 'Gone' } }));
    const result = await onTerminal(['backup'], sb.env);
    assert.equal(result.code, 1);
    assert.match(result.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''), /Gone: REFUSED: the local directory does not exist/);
    await writeFile(paths.poofConf!, JSON.stringify(conf));
  });

  it('piped output is plain lines: no colour, no cursor codes, no task-list symbols', async () => {
    const piped = await runPoof(['backup'], { env: colourEnv });
    assert.equal(piped.code, 0, piped.stderr);
    const all = piped.stdout + piped.stderr;
    assert.ok(!all.includes(ESC), JSON.stringify(all));
    assert.doesNotMatch(all, /[✔✖❯⚠↓]/);
    assert.match(piped.stdout, /^Docs: ok: copied 0 files/m);
  });
});
