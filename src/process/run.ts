import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface ProgramOptions {
  env: Record<string, string>;
  /**
   * Sent on stdin (secrets travel this way, never in argv); a stream is piped as it comes.
   * Without it stdin is closed.
   */
  input?: string | Readable | undefined;
  timeoutMs?: number | undefined;
  /** Aborting it stops the program: SIGTERM, then SIGKILL after a grace period. */
  cancelSignal?: AbortSignal | undefined;
  onStderrLine?: ((line: string) => void) | undefined;
  /** Called once the program has been started (or failed to start). */
  onSpawn?: (() => void) | undefined;
}

export interface ProgramResult {
  /** -1 when the program could not start or was ended by a signal. */
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The signal that ended the program, if one did. */
  signal?: string;
}

/** After SIGTERM, how long rclone gets to finish its current writes before SIGKILL. */
const KILL_GRACE_MS = 10_000;
/** stderr kept in the result; the log file gets every line through onStderrLine. */
const STDERR_KEPT = 64 * 1024;

/**
 * The one way poof runs another program (rclone, hooks, crontab, launchctl, systemctl): through
 * execa, with exactly the environment given, never a shell of its own, stderr line by line.
 * execa is loaded here, when a program is about to start, so `poof --help` never pays for it.
 */
export async function runProgram(bin: string, args: string[], options: ProgramOptions): Promise<ProgramResult> {
  const { execa } = await import('execa');
  const child = execa(bin, args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    stripFinalNewline: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.cancelSignal ? { cancelSignal: options.cancelSignal } : {}),
    forceKillAfterDelay: KILL_GRACE_MS,
    // stderr can be megabytes on a large run: read it as it comes, keep only the start.
    buffer: { stdout: true, stderr: false },
    encoding: 'utf8',
  });
  options.onSpawn?.();
  let stderr = '';
  const lines = child.stderr ? createInterface({ input: child.stderr, crlfDelay: Infinity }) : undefined;
  const drained = new Promise<void>((resolve) => (lines ? lines.on('close', resolve) : resolve()));
  lines?.on('line', (line) => {
    if (stderr.length < STDERR_KEPT) stderr += `${line}\n`;
    options.onStderrLine?.(line);
  });
  const result = await child;
  await drained;
  // A program that could not start (ENOENT, EACCES) says why, as its own stderr would.
  if (result.failed && result.exitCode === undefined && !result.signal && !result.isCanceled && !result.timedOut) {
    stderr += `${result.shortMessage}\n`;
  }
  return {
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1,
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr,
    timedOut: Boolean(result.timedOut),
    ...(result.signal ? { signal: result.signal } : {}),
  };
}

export interface ShellOptions {
  env: Record<string, string>;
  timeoutMs: number;
  cancelSignal?: AbortSignal | undefined;
}

export interface ShellResult {
  exitCode: number;
  /** The last line the command wrote on stderr. */
  lastError: string;
  timedOut: boolean;
  cancelled: boolean;
}

/**
 * Run a user's shell command (a hook) in a process group of its own. It is done when the shell
 * exits: its output goes to a file, not a pipe, so a background process it leaves running (an
 * `ssh -fN` tunnel, a `sleep &`) cannot hold the run. On a timeout or an interruption the
 * whole group is stopped, background processes included.
 */
export async function runShell(command: string, options: ShellOptions): Promise<ShellResult> {
  const { execa } = await import('execa');
  const { mkdtemp, open, readFile, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'poof-hook-'));
  const errFile = path.join(dir, 'stderr');
  // A stream with a file descriptor of its own, which the shell inherits: a {file} target would be
  // a pipe into the file, and execa waits for a pipe to close.
  const errHandle = await open(errFile, 'w', 0o600);
  const errStream = errHandle.createWriteStream({ autoClose: false });
  let timedOut = false;
  let cancelled = false;
  const child = execa('/bin/sh', ['-c', command], {
    env: options.env,
    extendEnv: false,
    reject: false,
    detached: true,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: errStream,
  });
  let killTimer: NodeJS.Timeout | undefined;
  const stopGroup = () => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    killTimer ??= setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }, KILL_GRACE_MS / 2);
  };
  const timer = setTimeout(() => ((timedOut = true), stopGroup()), options.timeoutMs);
  const onCancel = () => ((cancelled = true), stopGroup());
  if (options.cancelSignal?.aborted) onCancel();
  options.cancelSignal?.addEventListener('abort', onCancel, { once: true });
  try {
    const result = await child;
    const text = await readFile(errFile, 'utf8').catch(() => '');
    const lastError = text.trim().split('\n').pop()?.slice(0, 200) ?? '';
    return { exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1, lastError, timedOut, cancelled };
  } finally {
    clearTimeout(timer);
    if (killTimer) clearTimeout(killTimer);
    options.cancelSignal?.removeEventListener('abort', onCancel);
    await errHandle.close();
    await rm(dir, { recursive: true, force: true });
  }
}
