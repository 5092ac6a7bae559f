import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRcloneShim } from '../helpers/rclone-shim.js';
import { rcloneOnPath } from '../helpers/rclone-version.js';
import { makeSandbox, root, runPoof, type Sandbox } from '../helpers/sandbox.js';

const mode = async (file: string) => ((await stat(file)).mode & 0o777).toString(8);

describe('poof --version and --help', () => {
  let sb: Sandbox;
  before(async () => (sb = await makeSandbox()));
  after(() => sb.cleanup());

  it('prints the package version', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
    const result = await runPoof(['--version'], { env: sb.env });
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  it('shows examples for every command', async () => {
    const top = await runPoof(['--help'], { env: sb.env });
    // Every command the top-level help lists, and every subcommand of those.
    const listed = (help: string) => [...help.split(/^Commands:$/m)[1]!.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((name) => name !== 'help');
    const commands = listed(top.stdout);
    assert.ok(commands.length >= 18, commands.join(' '));
    for (const command of commands) {
      const result = await runPoof([command, '--help'], { env: sb.env });
      assert.equal(result.code, 0, command);
      assert.match(result.stdout, /Examples:\n\s+\$ poof /, command);
      for (const sub of /^Commands:$/m.test(result.stdout) ? listed(result.stdout) : []) {
        const inner = await runPoof([command, sub, '--help'], { env: sb.env });
        assert.equal(inner.code, 0, `${command} ${sub}`);
        assert.match(inner.stdout, /Examples:\n\s+\$ poof /, `${command} ${sub}`);
      }
    }
    assert.match(top.stdout, /Exit codes: 0 ok/);
  });

  it('loads no heavy package for --version and --help', async () => {
    const log = path.join(sb.dir, 'imports.log');
    const nodeArgs = ['--import', path.join(root, 'dist', 'test', 'helpers', 'record-imports.js')];
    // The bundle: which source modules each of its files holds.
    const meta = JSON.parse(await readFile(path.join(root, 'dist', 'bundle-meta.json'), 'utf8')) as { outputs: Record<string, { inputs: Record<string, unknown> }> };
    for (const args of [['--version'], ['--help'], ['backup', '--help']]) {
      await writeFile(log, '');
      const result = await runPoof(args, { env: { ...sb.env, POOF_IMPORT_LOG: log }, nodeArgs });
      assert.equal(result.code, 0);
      const files = (await readFile(log, 'utf8')).split('\n').map((s) => /(?:^|\/)([\w-]+\.js)$/.exec(s)?.[1]).filter((f): f is string => Boolean(f && meta.outputs[`dist/bin/${f}`]));
      assert.ok(files.includes('poof.js'), `the hook records the bundle's files: ${files.join(', ')}`);
      const loaded = files.flatMap((f) => Object.keys(meta.outputs[`dist/bin/${f}`]!.inputs));
      // --version answers before the argument parser is loaded; help is the parser's.
      assert.equal(loaded.some((m) => m.includes('node_modules/commander/')), args[0] !== '--version', `${args.join(' ')}: ${loaded.join(', ')}`);
      for (const heavy of ['ajv', 'listr2', '@inquirer', 'execa', 'trash', 'chalk']) {
        assert.ok(!loaded.some((m) => m.includes(`node_modules/${heavy}/`)), `${args.join(' ')} loaded ${heavy}`);
      }
    }
  });

  it('rejects unknown commands and options with exit 2 and one line', async () => {
    const unknown = await runPoof(['bakcup'], { env: sb.env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^poof: unknown command 'bakcup'/);
    const badChoice = await runPoof(['config', '--symlinks', 'maybe'], { env: sb.env });
    assert.equal(badChoice.code, 2);
    assert.match(badChoice.stderr, /--symlinks.*Allowed choices are follow, links, skip/);
  });
});

describe('poof config, cconfig, verify, paths, backup with real rclone', () => {
  let sb: Sandbox;
  let docs: string;
  before(async () => {
    sb = await makeSandbox();
    docs = path.join(sb.home, 'Documents');
    await mkdir(path.join(docs, 'deep', 'er', 'still'), { recursive: true });
    await writeFile(path.join(docs, 'notes ü 1.txt'), 'hello poof\n');
    await writeFile(path.join(docs, 'deep', 'er', 'still', 'x.bin'), Buffer.alloc(70_000, 7));
  });
  after(() => sb.cleanup());

  it('paths lists every file, following POOF_CONFIG_DIR and --confdir', async () => {
    const result = await runPoof(['paths'], { env: sb.env });
    assert.equal(result.code, 0);
    assert.match(result.stdout, new RegExp(`poof.conf = ${sb.confdir}/poof.conf`));
    assert.match(result.stdout, /rclone-poof.conf = .*rclone-poof.conf/);
    assert.match(result.stdout, /lock = .*poof.lock/);
    const json = JSON.parse((await runPoof(['--confdir', '/tmp/elsewhere', 'paths', '--json'], { env: sb.env })).stdout) as Record<string, string>;
    assert.equal(json.poofConf, '/tmp/elsewhere/poof.conf');
    assert.equal(json.configDirSource, 'flag');
  });

  it('config without a terminal writes the defaults in the original layout, privately', async () => {
    const result = await runPoof(['config'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as Record<string, unknown>;
    assert.match(String(conf.bucket), /^poofbackup-tester-[0-9a-f]{12}$/);
    assert.equal(conf.remote, 'poof-backup');
    assert.equal(conf.confFile, path.join(sb.confdir, 'poof.conf'));
    assert.deepEqual(conf.paths, { [docs]: 'Documents' });
    assert.equal(conf.$schema, './poof.schema.json');
    assert.equal(await mode(path.join(sb.confdir, 'poof.conf')), '600');
    assert.equal(await mode(sb.confdir), '700');
    assert.ok(JSON.parse(await readFile(path.join(sb.confdir, 'poof.schema.json'), 'utf8')).properties.paths);
    assert.match(result.stdout, /"bucket": "poofbackup-tester-/);
  });

  it('config never changes an existing file without --force, and keeps the bucket', async () => {
    const before = await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8');
    const shown = await runPoof(['config'], { env: sb.env });
    assert.equal(shown.code, 0);
    assert.match(shown.stderr, /exists; unchanged/);
    const refused = await runPoof(['config', '--map', `${sb.home}/Music=Music`], { env: sb.env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /already exists; add --force/);
    assert.equal(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8'), before);

    const extra = path.join(sb.home, 'extra');
    await mkdir(extra);
    await writeFile(path.join(extra, 'e.txt'), 'e');
    const forced = await runPoof(['config', '--map', `${extra}=Extra`, '--exclude', '*.tmp', '--force'], { env: sb.env });
    assert.equal(forced.code, 0, forced.stderr);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string; paths: object; excludes: string[] };
    assert.equal(conf.bucket, JSON.parse(before).bucket);
    assert.deepEqual(conf.paths, { [docs]: 'Documents', [extra]: 'Extra' });
    assert.deepEqual(conf.excludes, ['*.tmp']);
  });

  it('config refuses a mapping that would clash, writing nothing', async () => {
    const before = await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8');
    const result = await runPoof(['config', '--map', `${sb.home}/other=Documents`, '--force'], { env: sb.env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /maps to "Documents".*overwrite each other/);
    assert.equal(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8'), before);
  });

  it('config --force replaces an invalid file and keeps the old one beside it', async () => {
    const file = path.join(sb.confdir, 'poof.conf');
    const good = await readFile(file, 'utf8');
    await writeFile(file, '{"bucket": ');
    const refused = await runPoof(['config', '--map', `${docs}=Documents`], { env: sb.env });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /exists but is invalid.*not valid JSON/);
    const forced = await runPoof(['config', '--map', `${docs}=Documents`, '--force'], { env: sb.env });
    assert.equal(forced.code, 0, forced.stderr);
    const kept = (await readdir(sb.confdir)).filter((name) => name.startsWith('poof.conf.invalid-'));
    assert.equal(kept.length, 1);
    assert.equal(await readFile(path.join(sb.confdir, kept[0]!), 'utf8'), '{"bucket": ');
    await writeFile(file, good);
  });

  it('verify fails before rclone-poof.conf exists, naming the fix', async () => {
    const result = await runPoof(['verify'], { env: sb.env });
    assert.equal(result.code, 4);
    assert.match(result.stdout, /FAIL  rclone-poof.conf: not found .*poof cconfig --provider local/);
    assert.match(result.stdout, /skip  remote/);
  });

  it('cconfig --provider local writes a private alias remote and creates its root', async () => {
    const cloud = path.join(sb.dir, 'cloud');
    const result = await runPoof(['cconfig', '--provider', 'local', '--root', cloud], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    const text = await readFile(path.join(sb.confdir, 'rclone-poof.conf'), 'utf8');
    assert.equal(text, `[poof-backup]\ntype = alias\nremote = ${cloud}\n`);
    assert.equal(await mode(path.join(sb.confdir, 'rclone-poof.conf')), '600');
    assert.ok((await stat(cloud)).isDirectory());
    const again = await runPoof(['cconfig', '--provider', 'local', '--root', cloud], { env: sb.env });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already has a \[poof-backup\] section; add --force/);
  });

  it('verify passes with every check, in text and JSON', async () => {
    const result = await runPoof(['verify'], { env: sb.env });
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /ok {2}rclone: v1\.\d+/);
    assert.match(result.stdout, /ok {2}remote: reachable; poof-backup:poofbackup-tester-\w+ does not exist yet/);
    assert.match(result.stdout, /ok {2}encryption: off/);
    assert.match(
      result.stdout,
      /ok {2}fidelity: a local directory keeps contents, modification times, file modes and owners, empty directories; symbolic links followed \(their targets are copied\); changes are found by size and modification time, and mode changes by poof's record of what it sent; upload proves files by hash \(md5, sha1, whirlpool\)\n/,
    );
    assert.match(result.stdout, /ok {2}history: on; no run kept yet \(the next backup that changes something starts it\); keep: last 10, daily 14, weekly 8, monthly 12\n/);
    assert.match(result.stdout, /AWS_CA_BUNDLE \(passed to rclone as --ca-cert/);
    const json = JSON.parse((await runPoof(['verify', '--json'], { env: sb.env })).stdout) as { ok: boolean; checks: Array<{ id: string; status: string }> };
    assert.equal(json.ok, true);
    assert.deepEqual(
      json.checks.filter((c) => c.status !== 'warn').map((c) => c.id),
      ['rclone', 'poof.conf', 'rclone-poof.conf', 'rclone-poof.conf.encryption', 'dir:Documents', 'dir:Extra', 'remote', 'encryption', 'fidelity', 'history', 'protection'],
    );
  });

  it('verify says which rclone is in use and what that version means, in text and JSON', async () => {
    // The suite runs with Debian's 1.60 and with the current release; each has one expected answer.
    const { minor } = rcloneOnPath();
    const expected = minor >= 71 ? 'stable' : minor >= 66 ? 'beta' : 'experimental';
    const text = await runPoof(['verify', '--offline'], { env: sb.env });
    assert.match(text.stdout, new RegExp(`ok {2}rclone: v1\\.${minor}\\.\\d+\\S* at \\S+; .*bisync: ${expected}`));
    assert.match(text.stdout, minor >= 63 ? /leaves a \.partial file, never a cut-short one/ : /leaves that file cut short until the next backup/);
    const json = JSON.parse((await runPoof(['verify', '--offline', '--json'], { env: sb.env })).stdout) as { checks: Array<{ id: string; facts?: { version: string; capabilities: { bisync: string; partialUploads: boolean; usageExit2: boolean } } }> };
    const facts = json.checks.find((c) => c.id === 'rclone')?.facts;
    assert.match(facts?.version ?? '', new RegExp(`^v1\\.${minor}\\.`));
    // CI names the rclone each pass must use, so a pass cannot silently run with the other one.
    const expectedVersion = process.env.POOF_EXPECT_RCLONE;
    if (expectedVersion !== undefined) assert.equal(facts?.version, expectedVersion, 'poof verify --json names another rclone than this CI pass installed');
    assert.deepEqual([facts?.capabilities.bisync, facts?.capabilities.partialUploads, facts?.capabilities.usageExit2], [expected, minor >= 63, minor >= 69]);
  });

  it('backup copies every mapping byte for byte, then a second run copies nothing', async () => {
    const first = await runPoof(['backup'], { env: sb.env });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Documents: ok: copied 2 files/);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string };
    const copy = path.join(sb.dir, 'cloud', conf.bucket, 'Documents');
    assert.equal(await readFile(path.join(copy, 'notes ü 1.txt'), 'utf8'), 'hello poof\n');
    assert.deepEqual(await readFile(path.join(copy, 'deep', 'er', 'still', 'x.bin')), Buffer.alloc(70_000, 7));
    const second = await runPoof(['backup', '--json'], { env: sb.env });
    const json = JSON.parse(second.stdout) as { ok: boolean; mappings: Array<{ copied: number }> };
    assert.equal(json.ok, true);
    assert.deepEqual(json.mappings.map((m) => m.copied), [0, 0]);
    const verified = await runPoof(['verify'], { env: sb.env });
    assert.match(verified.stdout, /remote: poof-backup:poofbackup-tester-\w+ is reachable \(2 entries, and \.poof-history\/ with past runs\)/);
  });

  it('backup keeps modification times, file modes and empty directories on a local remote', async () => {
    const file = path.join(docs, 'kept.txt');
    await writeFile(file, 'attributes');
    await chmod(file, 0o640);
    const old = new Date('2020-02-03T04:05:06Z');
    await utimes(file, old, old);
    await mkdir(path.join(docs, 'empty dir'));
    const result = await runPoof(['backup', '--only', 'Documents'], { env: sb.env });
    assert.equal(result.code, 0, result.stderr);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string };
    const copy = path.join(sb.dir, 'cloud', conf.bucket, 'Documents');
    const copied = await stat(path.join(copy, 'kept.txt'));
    assert.equal(copied.mtime.getTime(), old.getTime());
    assert.equal((copied.mode & 0o777).toString(8), '640');
    assert.ok((await stat(path.join(copy, 'empty dir'))).isDirectory());
  });

  it('backup refuses an emptied source, keeps its remote copy and exits 1', async () => {
    const extra = path.join(sb.home, 'extra');
    await writeFile(path.join(extra, 'e.txt'), '');
    execFileSync('rm', [path.join(extra, 'e.txt')]);
    const result = await runPoof(['backup'], { env: sb.env });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Extra: REFUSED: the local directory holds no files/);
    assert.match(result.stdout, /Documents: ok/);
    const conf = JSON.parse(await readFile(path.join(sb.confdir, 'poof.conf'), 'utf8')) as { bucket: string };
    assert.deepEqual(await readdir(path.join(sb.dir, 'cloud', conf.bucket, 'Extra')), ['e.txt']);
  });

  it('a broken poof.conf gives exit 3 from commands and 4 from verify, naming the field', async () => {
    const file = path.join(sb.confdir, 'poof.conf');
    const good = await readFile(file, 'utf8');
    const broken = JSON.parse(good) as Record<string, unknown>;
    broken.paths = { 'Documents': 'Documents' };
    broken.rclone = { transfers: 'many' };
    await writeFile(file, JSON.stringify(broken));
    const backup = await runPoof(['backup'], { env: sb.env });
    assert.equal(backup.code, 3);
    assert.match(backup.stderr, /poof.conf: paths\["Documents"\] is not an absolute path/);
    assert.match(backup.stderr, /rclone.transfers must be a whole number/);
    assert.doesNotMatch(backup.stderr, /\n\s+at /, 'no stack trace');
    const verify = await runPoof(['verify'], { env: sb.env });
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, /FAIL  poof.conf: .*paths\["Documents"\] is not an absolute path/);
    await writeFile(file, '{"bucket": "b",');
    const syntax = await runPoof(['backup'], { env: sb.env });
    assert.equal(syntax.code, 3);
    assert.match(syntax.stderr, /is not valid JSON at line 1/);
    await writeFile(file, good);
  });

  it('a missing rclone fails verify (4) and backup (6) with an install hint', async () => {
    // The CLI runs by node's absolute path; its PATH holds no rclone.
    const emptyBin = path.join(sb.dir, 'empty-bin');
    await mkdir(emptyBin, { recursive: true });
    const env = { ...sb.env, PATH: emptyBin };
    const verify = await runPoof(['verify'], { env });
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, /FAIL  rclone: rclone not found on PATH \(fix: install it/);
    const backup = await runPoof(['backup'], { env });
    assert.equal(backup.code, 6);
    assert.match(backup.stderr, /^poof: rclone not found on PATH; install it/);
  });

  it('verify catches placeholder credentials and a config readable by others', async () => {
    const file = path.join(sb.confdir, 'rclone-poof.conf');
    const good = await readFile(file, 'utf8');
    await writeFile(file, '[poof-backup]\ntype = s3\nprovider = AWS\naccess_key_id = BOGUS-KEY-USE-YOURS\nsecret_access_key = BOGUS-SECRET-KEY-USE-YOURS\n');
    await chmod(file, 0o644);
    const result = await runPoof(['verify', '--offline'], { env: sb.env });
    assert.equal(result.code, 4);
    assert.match(result.stdout, /FAIL  rclone-poof.conf: .*other users can access it \(mode 644\) \(fix: chmod 600/);
    assert.match(result.stdout, /FAIL  rclone-poof.conf: placeholder credentials in \[poof-backup\] access_key_id, \[poof-backup\] secret_access_key/);
    await writeFile(file, good);
    await chmod(file, 0o600);
  });

  it('cconfig keeps secrets out of argv and output, and obscures passwords as rclone expects', async () => {
    const { shim, argvLog } = await writeRcloneShim(sb.dir);
    const secret = 'pa55 w0rd!with$pecials';
    const env = { ...sb.env, POOF_RCLONE: shim, POOF_SECRET: secret };
    const result = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--user', 'u', '--force'], { env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^pass = \*\*\*$/m);
    assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret));
    const argv = await readFile(argvLog, 'utf8');
    assert.match(argv, /^obscure - /m, 'the secret went through rclone obscure on stdin');
    assert.ok(!argv.includes(secret), 'no secret in any rclone argv');
    const text = await readFile(path.join(sb.confdir, 'rclone-poof.conf'), 'utf8');
    const stored = /^pass = (.+)$/m.exec(text)?.[1] ?? '';
    assert.notEqual(stored, secret);
    assert.equal(execFileSync('rclone', ['reveal', stored], { env: { PATH: process.env.PATH, RCLONE_CONFIG: '/dev/null' } }).toString().trim(), secret);
    assert.equal(await mode(path.join(sb.confdir, 'rclone-poof.conf')), '600');
  });

  it('cconfig reads a secret from stdin, stores S3 keys as rclone expects, keeps other sections', async () => {
    const file = path.join(sb.confdir, 'rclone-poof.conf');
    await writeFile(file, '[mine]\ntype = local\n\n[poof-backup]\ntype = alias\nremote = /x\n', { mode: 0o600 });
    const result = await runPoof(['cconfig', '--provider', 's3', '--region', 'eu-west-1', '--access-key-id', 'AKIAEXAMPLE', '--secret-stdin', '--force'], { env: sb.env, input: 's3cr3t/key\n' });
    assert.equal(result.code, 0, result.stderr);
    const text = await readFile(file, 'utf8');
    assert.match(text, /^\[mine\]\ntype = local\n\n\[poof-backup\]\ntype = s3\n/);
    assert.match(text, /^secret_access_key = s3cr3t\/key$/m);
    assert.match(text, /^location_constraint = eu-west-1$/m);
    assert.ok(!result.stdout.includes('s3cr3t'));
  });

  it('cconfig without a secret and without a terminal fails with exit 2 and writes nothing', async () => {
    const file = path.join(sb.confdir, 'rclone-poof.conf');
    const before = await readFile(file, 'utf8');
    const result = await runPoof(['cconfig', '--provider', 'b2', '--account', '0012', '--force'], { env: sb.env });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--provider b2 needs the b2 application key; set POOF_SECRET, pipe it with --secret-stdin/);
    assert.equal(await readFile(file, 'utf8'), before);
    const missing = await runPoof(['cconfig', '--provider', 'r2', '--force'], { env: sb.env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--provider r2 needs --account-id \(Cloudflare account ID\), --access-key-id/);
  });
});
