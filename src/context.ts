import os from 'node:os';
import type { PoofPaths } from './config/paths.js';
import type { Rclone } from './rclone/runner.js';

/** What every command gets from the CLI: resolved paths, the environment and the terminal. */
export interface Context {
  paths: PoofPaths;
  env: Record<string, string | undefined>;
  cwd: string;
  home: string;
  user: string;
  platform: NodeJS.Platform;
  /** Both stdin and stdout are terminals: prompts are allowed. */
  interactive: boolean;
  /** stdout is a terminal: colours and live progress are allowed. */
  stdoutIsTTY: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  /**
   * Find rclone and read its version: the one way outside src/rclone/ to get an rclone to run.
   * `cacheVersion` remembers the version in the state dir; `'refresh'` always asks, and keeps the
   * answer for the next command (verify).
   */
  locateRclone: (options?: { cacheVersion?: boolean | 'refresh' }) => Promise<Rclone>;
}

export async function createContext(confdirFlag: string | undefined): Promise<Context> {
  const { default: envPaths } = await import('env-paths');
  const { resolvePaths } = await import('./config/paths.js');
  const dirs = envPaths('poof', { suffix: '' });
  const home = os.homedir();
  const env = process.env;
  const paths = resolvePaths({ dirs, home, platform: process.platform, cwd: process.cwd(), confdirFlag, env });
  return {
    paths,
    env,
    cwd: process.cwd(),
    home,
    user: env.USER || os.userInfo().username,
    platform: process.platform,
    interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    out: (line) => writeLine(process.stdout, line),
    err: (line) => writeLine(process.stderr, line),
    locateRclone: async (options) => {
      const { locateRclone } = await import('./rclone/runner.js');
      return locateRclone({ env, ...(options?.cacheVersion ? { cacheFile: paths.rcloneVersionCache, refresh: options.cacheVersion === 'refresh' } : {}) });
    },
  };
}

/** Once the reader of a pipe has gone, output is dropped: the run itself goes on. */
function writeLine(stream: NodeJS.WriteStream, line: string): void {
  if (stream.destroyed || !stream.writable) return;
  stream.write(`${line}\n`);
}
