import { accessSync, constants } from 'node:fs';
import { RcloneMissingError } from '../errors.js';
import { rcloneEnvironment } from './env.js';
import { MIN_RCLONE, atLeast, findOnPath, parseRcloneVersion, type RcloneVersion } from './version.js';

export interface RcloneResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The signal that ended rclone, if one did. */
  signal?: string;
}

export interface RunOptions {
  /** Sent on stdin (secrets travel this way, never in argv). Without it stdin is closed. */
  input?: string;
  timeoutMs?: number;
  onStderrLine?: (line: string) => void;
  cancelSignal?: AbortSignal;
}

export interface Rclone {
  bin: string;
  version: RcloneVersion;
  run(args: string[], options?: RunOptions): Promise<RcloneResult>;
}

export interface LocateOptions {
  env: Record<string, string | undefined>;
}

/** Find rclone (POOF_RCLONE, else PATH) and read its version; throws when missing or too old. */
export async function locateRclone({ env }: LocateOptions): Promise<Rclone> {
  const bin = env.POOF_RCLONE?.trim() || findOnPath('rclone', env.PATH, isExecutable);
  if (!bin || !isExecutable(bin)) {
    throw new RcloneMissingError(
      env.POOF_RCLONE ? `rclone not found at POOF_RCLONE=${env.POOF_RCLONE}` : 'rclone not found on PATH',
      'install it (Debian/Ubuntu: sudo apt-get install rclone; macOS: brew install rclone; or https://rclone.org/install/)',
    );
  }
  const runner = createRunner(bin, env);
  const result = await runner(['version'], { timeoutMs: 20_000 });
  const version = parseRcloneVersion(result.stdout);
  if (result.exitCode !== 0 || !version) {
    throw new RcloneMissingError(`${bin} did not report an rclone version (exit ${result.exitCode})`, 'reinstall rclone');
  }
  if (!atLeast(version, MIN_RCLONE.major, MIN_RCLONE.minor)) {
    throw new RcloneMissingError(
      `rclone ${version.text} at ${bin} is older than ${MIN_RCLONE.text}`,
      'install a newer rclone (https://rclone.org/install/)',
    );
  }
  return { bin, version, run: runner };
}

function createRunner(bin: string, sourceEnv: Record<string, string | undefined>) {
  const { env, args: envArgs } = rcloneEnvironment(sourceEnv);
  return async (args: string[], options: RunOptions = {}): Promise<RcloneResult> => {
    const { execa } = await import('execa');
    const child = execa(bin, [...args, ...envArgs], {
      env,
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
      ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
      ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
      ...(options.cancelSignal ? { cancelSignal: options.cancelSignal } : {}),
      ...(options.onStderrLine ? { stderr: ['pipe', lineSink(options.onStderrLine)] as const } : {}),
    });
    const result = await child;
    return {
      exitCode: typeof result.exitCode === 'number' ? result.exitCode : -1,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      timedOut: Boolean(result.timedOut),
      ...(result.signal ? { signal: result.signal } : {}),
    };
  };
}

/** An execa generator transform that reports each stderr line and passes it through. */
function lineSink(onLine: (line: string) => void) {
  return function* (line: unknown): Generator<unknown, void, unknown> {
    onLine(String(line));
    yield line;
  };
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
