import { ConfigError } from '../errors.js';
import { findSection, parseRcloneConf, type RcloneSection } from './ini.js';
import type { PoofPaths } from '../config/paths.js';
import type { PoofConfig } from '../config/schema.js';
import { readTextIfExists } from '../config/store.js';

export interface RemoteSections {
  section: RcloneSection;
  /** For a crypt (or alias) remote: the section it wraps, when it is in the same file. */
  baseSection?: RcloneSection | undefined;
}

/** Read rclone-poof.conf and find poof.conf's remote; ConfigError when either is missing. */
export async function loadRemoteSections(paths: PoofPaths, config: PoofConfig): Promise<RemoteSections> {
  const text = await readTextIfExists(paths.rcloneConf);
  if (text === undefined) {
    throw new ConfigError(`rclone-poof.conf not found at ${paths.rcloneConf}`, 'run `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav)');
  }
  const parsed = parseRcloneConf(text);
  if (parsed.errors.length > 0) throw new ConfigError(`${paths.rcloneConf}: ${parsed.errors[0]}`, 'fix it, or rewrite it with `poof cconfig --force`');
  const section = findSection(parsed, config.remote);
  if (!section) throw new ConfigError(`${paths.rcloneConf} has no [${config.remote}] section`, 'run `poof cconfig`, or set "remote" in poof.conf');
  const wrapped = section.values.remote?.includes(':') ? section.values.remote.split(':')[0] : undefined;
  return { section, baseSection: wrapped ? findSection(parsed, wrapped) : undefined };
}
