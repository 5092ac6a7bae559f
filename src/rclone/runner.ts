import { mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { isExecutable } from '../fs/probe.js';
import { RcloneMissingError } from '../errors.js';
import { rcloneEnvironment } from './env.js';
import { confPasswordEnv } from './conf-file.js';
import { runProgram } from '../process/run.js';
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
  /** Sent on stdin (secrets travel this way, never in argv); a stream is piped as it comes. Without it stdin is closed. */
  input?: string | Readable;
  timeoutMs?: number;
  onStderrLine?: (line: string) => void;
  cancelSignal?: AbortSignal;
  /** Called once rclone has been started. */
  onSpawn?: () => void;
}

export interface Rclone {
  bin: string;
  version: RcloneVersion;
  run(args: string[], options?: RunOptions): Promise<RcloneResult>;
}

export interface LocateOptions {
  env: Record<string, string | undefined>;
  /**
   * Remember the version here, keyed by the binary's path, size and modification time: asking
   * `rclone version` costs ~80 ms, a large share of a no-change backup. `poof verify` always asks.
   */
  cacheFile?: string;
  /** Ask even when the cache holds the version, and keep the answer. */
  refresh?: boolean;
}

/** Find rclone (POOF_RCLONE, else PATH) and read its version; throws when missing or too old. */
export async function locateRclone({ env, cacheFile, refresh }: LocateOptions): Promise<Rclone> {
  const bin = env.POOF_RCLONE?.trim() || findOnPath('rclone', env.PATH, isExecutable);
  if (!bin || !isExecutable(bin)) {
    throw new RcloneMissingError(
      env.POOF_RCLONE ? `rclone not found at POOF_RCLONE=${env.POOF_RCLONE}` : 'rclone not found on PATH',
      'install it (Debian/Ubuntu: sudo apt-get install rclone; macOS: brew install rclone; or https://rclone.org/install/)',
    );
  }
  const runner = createRunner(bin, env);
  const key = cacheFile ? binaryKey(bin) : undefined;
  let version = key && cacheFile && !refresh ? readCachedVersion(cacheFile, key) : undefined;
  if (!version) {
    const result = await runner(['version'], { timeoutMs: 20_000 });
    version = parseRcloneVersion(result.stdout);
    if (result.exitCode !== 0 || !version) {
      throw new RcloneMissingError(`${bin} did not report an rclone version (exit ${result.exitCode})`, 'reinstall rclone');
    }
    if (key && cacheFile) writeCachedVersion(cacheFile, key, version);
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
  const unlock = { env: sourceEnv, platform: process.platform };
  return async (args: string[], options: RunOptions = {}): Promise<RcloneResult> => {
    // An encrypted rclone-poof.conf: rclone gets its password in the environment, never argv.
    const password = await confPasswordEnv(args, unlock);
    const childEnv = password ? { ...withoutPasswordCommand(env), ...password } : env;
    return runProgram(bin, [...args, ...envArgs], { env: childEnv, ...options });
  };
}

/** rclone asks a password command before $RCLONE_CONFIG_PASS: not when poof gives the password. */
function withoutPasswordCommand(env: Record<string, string>): Record<string, string> {
  const { RCLONE_PASSWORD_COMMAND: _dropped, ...rest } = env;
  return rest;
}

/** The binary's identity: a new rclone at the same path has another size or time. */
function binaryKey(bin: string): string | undefined {
  try {
    const real = realpathSync(bin);
    const info = statSync(real);
    return `${real}\u0000${info.size}\u0000${info.mtimeMs}`;
  } catch {
    return undefined;
  }
}

function readCachedVersion(file: string, key: string): RcloneVersion | undefined {
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { key?: string; version?: string };
    return data.key === key && data.version ? parseRcloneVersion(`rclone ${data.version}`) : undefined;
  } catch {
    return undefined;
  }
}

function writeCachedVersion(file: string, key: string, version: RcloneVersion): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${JSON.stringify({ key, version: version.text })}\n`, { mode: 0o600 });
  } catch {
    // Only a cache: the next run asks rclone again.
  }
}
