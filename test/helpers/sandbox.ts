import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3, startSshd, type RunningServer, type SshServer } from './servers.js';

/** dist/test/helpers -> the package root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The CLI as users get it: the bundle `npm run build` makes (package.json's bin). */
export const cliPath = path.join(root, 'dist', 'bin', 'poof.js');

const DESKTOP_VARS = ['DBUS_SESSION_BUS_ADDRESS', 'DISPLAY', 'WAYLAND_DISPLAY'];

export interface Sandbox {
  dir: string;
  home: string;
  confdir: string;
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * A temporary HOME and config dir with an environment free of the caller's XDG_*, POOF_* and
 * RCLONE_* variables, so every test sees a fresh machine. AWS_CA_BUNDLE is kept on purpose:
 * poof must cope with it. The desktop session's variables go too: a failed run in a test must
 * not show a notification on the desktop of whoever runs the tests.
 */
export async function makeSandbox(): Promise<Sandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-test-'));
  const home = path.join(dir, 'home');
  const confdir = path.join(dir, 'conf');
  await mkdir(home, { recursive: true });
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(XDG_|POOF_|RCLONE_)/.test(key) || DESKTOP_VARS.includes(key)) continue;
    env[key] = value;
  }
  Object.assign(env, { HOME: home, POOF_CONFIG_DIR: confdir, NO_COLOR: '1', USER: 'tester' });
  return { dir, home, confdir, env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
  nodeArgs?: string[];
}

/** Run the built CLI as a user would, without a terminal. */
export function runPoof(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), cliPath, ...args], {
      env: options.env as NodeJS.ProcessEnv,
      cwd: options.cwd ?? root,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

export interface LocalBackup {
  /** Each mapping's local directory, by its remote name. */
  dirs: Record<string, string>;
  /** The local-directory "cloud". */
  cloud: string;
  /** `poof paths --json`: poofConf, rcloneConf, historyFile, logFile, lockFile, ... */
  paths: Record<string, string>;
}

/**
 * The usual start of a test: directories under the sandbox's home holding the given files, each
 * mapped under its name with `poof config --map`, and a local-directory cloud from `poof cconfig`.
 */
export async function mapLocalDirs(sb: Sandbox, trees: Record<string, Record<string, string | Buffer>>): Promise<LocalBackup> {
  const dirs: Record<string, string> = {};
  for (const [name, files] of Object.entries(trees)) {
    dirs[name] = path.join(sb.home, name);
    await mkdir(dirs[name]!, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dirs[name]!, file)), { recursive: true });
      await writeFile(path.join(dirs[name]!, file), content);
    }
  }
  const cloud = path.join(sb.dir, 'cloud');
  const steps = [
    ['config', ...Object.entries(dirs).flatMap(([name, dir]) => ['--map', `${dir}=${name}`])],
    ['cconfig', '--provider', 'local', '--root', cloud],
  ];
  for (const args of steps) {
    const result = await runPoof(args, { env: sb.env });
    if (result.code !== 0) throw new Error(`poof ${args[0]} failed (${result.code}): ${result.stderr}`);
  }
  const paths = JSON.parse((await runPoof(['paths', '--json'], { env: sb.env })).stdout) as Record<string, string>;
  return { dirs, cloud, paths };
}

/**
 * s3rver under the sandbox, and poof pointed at it (`cconfig --provider s3 --force`): the
 * environment to run poof with (holding the secret), and the server to stop.
 */
export async function cconfigS3(sb: Sandbox): Promise<{ env: Record<string, string>; s3: RunningServer }> {
  const s3 = await startS3(path.join(sb.dir, 's3data'));
  const env = { ...sb.env, POOF_SECRET: 'S3RVER' };
  const made = await runPoof(['cconfig', '--provider', 's3', '--endpoint', `http://127.0.0.1:${s3.port}`, '--access-key-id', 'S3RVER', '--force'], { env });
  if (made.code !== 0) {
    await s3.stop();
    throw new Error(`poof cconfig --provider s3 failed (${made.code}): ${made.stderr}`);
  }
  return { env, s3 };
}

/**
 * A real OpenSSH sshd under the sandbox, and poof pointed at it over SFTP with its key and known
 * hosts (`cconfig --provider sftp --force`): the server, whose `root` holds the bucket.
 */
export async function cconfigOpenSsh(sb: Sandbox): Promise<SshServer> {
  const sshd = await startSshd(path.join(sb.dir, 'sshd-root'));
  const made = await runPoof(['cconfig', '--provider', 'sftp', '--host', '127.0.0.1', '--port', String(sshd.port), '--user', sshd.user, '--key-file', sshd.clientKey, '--known-hosts', sshd.knownHosts, '--shell-type', 'none', '--force'], { env: sb.env });
  if (made.code !== 0) {
    await sshd.stop();
    throw new Error(`poof cconfig --provider sftp failed (${made.code}): ${made.stderr}`);
  }
  return sshd;
}

/** Change poof.conf by hand, as a user editing the file would. */
export async function setConf(sb: Sandbox, change: (conf: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(sb.confdir, 'poof.conf');
  const conf = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  change(conf);
  await writeFile(file, JSON.stringify(conf));
}
