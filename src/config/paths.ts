import { createHash } from 'node:crypto';
import path from 'node:path';

/** The platform directories env-paths computes for poof (with `{suffix: ''}`). */
export interface PlatformDirs {
  config: string;
  data: string;
  log: string;
}

export interface PoofPaths {
  configDir: string;
  /** Where the config dir came from, so `poof paths` can explain it. */
  configDirSource: 'flag' | 'env' | 'default';
  poofConf: string;
  rcloneConf: string;
  /** A copy of the JSON Schema beside poof.conf, referenced by its `$schema` for editors. */
  schemaFile: string;
  stateDir: string;
  historyFile: string;
  logFile: string;
  lockFile: string;
  /** The version of the rclone binary last seen, so a run need not ask it every time. */
  rcloneVersionCache: string;
  /** Mappings that `poof upload` has wiped locally: their backups copy and never delete remotely. */
  uploadedFile: string;
  /** Restores and backups that started and did not finish, by local directory and by mapping. */
  unfinishedFile: string;
  /** What the remote's storage can show of a change (rclone backend features), remembered. */
  featuresCache: string;
  /** Root of the built-in local-directory "cloud" when `cconfig --provider local` gets no --root. */
  defaultLocalRoot: string;
  /** What `poof sync` replaced or deleted on this machine, by run: `<run id>/<NAME>/...` (rclone 1.66+). */
  syncKeptDir: string;
  /** Where the original Python poof kept its config on this platform (appdirs user_config_dir). */
  legacyConfigDir: string;
}

export interface PathInputs {
  dirs: PlatformDirs;
  home: string;
  platform: NodeJS.Platform;
  cwd: string;
  confdirFlag?: string | undefined;
  env: Record<string, string | undefined>;
}

export const POOF_CONF = 'poof.conf';
export const RCLONE_CONF = 'rclone-poof.conf';

/**
 * Pure: every file poof uses, from the platform dirs, the --confdir flag and the environment.
 * Precedence for the config dir: --confdir, then POOF_CONFIG_DIR, then the platform default.
 */
export function resolvePaths(input: PathInputs): PoofPaths {
  const { dirs, env, cwd } = input;
  const fromEnv = nonEmpty(env.POOF_CONFIG_DIR);
  const flag = nonEmpty(input.confdirFlag);
  const configDirSource = flag ? 'flag' : fromEnv ? 'env' : 'default';
  const configDir = path.resolve(cwd, flag ?? fromEnv ?? dirs.config);

  // State (lock, history, logs) is per config. A non-default config dir gets its own state dir,
  // keyed by the config dir, so two configs never share a lock; it lives outside the config dir
  // so that mapping the config dir for backup does not copy files that change during the run.
  const stateFromEnv = nonEmpty(env.POOF_STATE_DIR);
  const stateDir = stateFromEnv
    ? path.resolve(cwd, stateFromEnv)
    : configDirSource === 'default'
      ? dirs.log
      : path.join(dirs.log, 'configs', shortHash(configDir));

  const legacyConfigDir =
    input.platform === 'darwin'
      ? path.join(input.home, 'Library', 'Application Support', 'poof')
      : path.join(input.home, '.config', 'poof');

  return {
    configDir,
    configDirSource,
    poofConf: path.join(configDir, POOF_CONF),
    rcloneConf: path.join(configDir, RCLONE_CONF),
    schemaFile: path.join(configDir, 'poof.schema.json'),
    stateDir,
    historyFile: path.join(stateDir, 'history.jsonl'),
    logFile: path.join(stateDir, 'poof.log'),
    lockFile: path.join(stateDir, 'poof.lock'),
    rcloneVersionCache: path.join(stateDir, 'rclone-version.json'),
    uploadedFile: path.join(stateDir, 'uploaded.json'),
    unfinishedFile: path.join(stateDir, 'unfinished.json'),
    featuresCache: path.join(stateDir, 'remote-features.json'),
    defaultLocalRoot: path.join(dirs.data, 'local-cloud'),
    // Per config, as the state: a prune of one config must never reach another's kept copies.
    syncKeptDir: configDirSource === 'default' && !stateFromEnv ? path.join(dirs.data, 'sync-kept') : path.join(dirs.data, 'configs', shortHash(stateFromEnv ? stateDir : configDir), 'sync-kept'),
    legacyConfigDir,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value : undefined;
}

/** A short, stable id for a path (state subdirectories, schedule names). */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}
