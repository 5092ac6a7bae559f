import { createInterface } from 'node:readline';

export interface ProgramOptions {
  env: Record<string, string>;
  /** Sent on stdin (secrets travel this way, never in argv). Without it stdin is closed. */
  input?: string | undefined;
  timeoutMs?: number | undefined;
  /** Aborting it stops the program: SIGTERM, then SIGKILL after a grace period. */
  cancelSignal?: AbortSignal | undefined;
  onStderrLine?: ((line: string) => void) | undefined;
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
