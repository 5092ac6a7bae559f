import { spawn, type ChildProcess } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import { cliPath, root } from './sandbox.js';

export interface Background {
  child: ChildProcess;
  /** poof's own pid (inside `script` for a terminal run). */
  pid: number;
  stdout(): string;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start poof in its own process group, as a shell starts a foreground job. With `tty`, poof runs
 * under `script`, on a real pseudo-terminal: writing \x03 to it is a terminal's Ctrl-C (the line
 * discipline sends SIGINT to the foreground process group). `within`: the argv that runs the
 * shell command it is given, which ends by exec-ing poof (poof keeps the pid), e.g. in a user
 * namespace of its own.
 */
const running = new Set<Background>();

/** Kill (SIGKILL to the group) every poof started here that is still running, and wait for each to end: before a sandbox is removed. */
export async function killStarted(): Promise<void> {
  const runs = [...running];
  for (const run of runs) if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.pid, 'SIGKILL');
  await Promise.all(runs.map((run) => run.exit));
}

export function startPoof(args: string[], env: Record<string, string>, options: { tty?: boolean; within?: (command: string) => string[] } = {}): Background {
  const quoted = [process.execPath, cliPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const wrapped = options.within?.(`exec ${quoted}`);
  const child = options.tty
    ? spawn('script', ['-qfec', `stty cols 200 rows 50 2>/dev/null; exec ${quoted}`, '/dev/null'], { env: { ...env, TERM: 'xterm-256color' }, cwd: root, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    : wrapped
      ? spawn(wrapped[0]!, wrapped.slice(1), { env, cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [cliPath, ...args], { env, cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin?.on('error', () => {});
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 120_000);
  const run: Background = { child, pid: child.pid ?? 0, stdout: () => out, stderr: () => err, exit };
  running.add(run);
  void exit.then(() => {
    clearTimeout(timer);
    running.delete(run);
  });
  return run;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not met within ${timeoutMs} ms`);
}

/** Answer a question on poof's terminal once it is on screen. */
export async function answer(run: Background, question: RegExp, keys: string): Promise<void> {
  await waitFor(async () => question.test(run.stdout()), 20_000, `the question ${question}`);
  await new Promise((r) => setTimeout(r, 200));
  run.child.stdin!.write(keys);
}

/** Everything a terminal run printed, without the terminal's control sequences. */
export const textOf = (run: Background) => (run.stdout() + run.stderr()).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

export const exists = (file: string) => access(file).then(() => true, () => false);

/** Wait until rclone's transfer for `name` has started (poof logs its argv first). */
export async function waitForTransfer(logFile: string, name: string, subcommand: string): Promise<void> {
  await waitFor(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes(`${name}: rclone ${subcommand} `), 30_000, `rclone ${subcommand} of ${name}`);
  // rclone needs a moment to start moving bytes.
  await new Promise((r) => setTimeout(r, 700));
}

/** Processes whose command line contains `text`: their pids, or with `full` each pid and command line. */
export function pgrep(text: string, full = false): Promise<string> {
  return new Promise((resolve) => {
    const ps = spawn('pgrep', [...(full ? ['-a'] : []), '-f', text]);
    let out = '';
    ps.stdout.on('data', (d: Buffer) => (out += d.toString()));
    ps.on('close', () => resolve(out.trim()));
  });
}

const answered = new WeakMap<Background, number>();

/**
 * Type on poof's terminal once `question` is on screen, looking only at the output after the
 * previous question this helper answered on that run. A prompt shows its question again once
 * answered, so a question asked a second time needs a pattern only the new screen has (the
 * wizard's listing before it, say). Each chunk of `keys` is sent after a pause, as a person
 * types: a prompt acts on one key before it reads the next.
 */
export async function typeAfter(run: Background, question: RegExp, ...keys: string[]): Promise<void> {
  const from = answered.get(run) ?? 0;
  let end = from;
  await waitFor(
    async () => {
      const match = new RegExp(question.source, question.flags.replace('g', '')).exec(run.stdout().slice(from));
      if (match) end = from + match.index + match[0].length;
      return match !== null;
    },
    20_000,
    `the question ${question}`,
  );
  answered.set(run, end);
  for (const chunk of keys) {
    await new Promise((r) => setTimeout(r, 200));
    run.child.stdin!.write(chunk);
  }
}
