import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers -> the package root. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = path.join(root, 'dist', 'src', 'cli.js');

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
