import { ConfigError } from '../errors.js';
import { findSection, parseRcloneConf, type ParsedRcloneConf, type RcloneSection } from './ini.js';
import type { PoofPaths } from '../config/paths.js';
import type { PoofConfig } from '../config/schema.js';
import { readTextIfExists } from '../config/store.js';

/** A file in rclone's config format as read from disk: its text and its sections. */
export interface RcloneConf extends ParsedRcloneConf {
  file: string;
  /** The text as read; undefined when there is no such file (then there are no sections). */
  text: string | undefined;
}

/**
 * The one place that reads and parses a file in rclone's format: rclone-poof.conf, or a
 * recovery kit. A missing file reads as one without sections; callers decide what that means.
 */
export async function readRcloneConf(file: string): Promise<RcloneConf> {
  const text = await readTextIfExists(file);
  return { file, text, ...parseRcloneConf(text ?? '') };
}

export interface RemoteSections {
  section: RcloneSection;
  /** For a crypt (or alias) remote: the section it wraps, when it is in the same file. */
  baseSection?: RcloneSection | undefined;
}

/** Read rclone-poof.conf and find poof.conf's remote; ConfigError when either is missing. */
export async function loadRemoteSections(paths: PoofPaths, config: PoofConfig): Promise<RemoteSections> {
  const conf = await readRcloneConf(paths.rcloneConf);
  if (conf.text === undefined) {
    throw new ConfigError(`rclone-poof.conf not found at ${paths.rcloneConf}`, 'run `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav)');
  }
  if (conf.errors.length > 0) throw new ConfigError(`${paths.rcloneConf}: ${conf.errors[0]}`, 'fix it, or rewrite it with `poof cconfig --force`');
  const section = findSection(conf, config.remote);
  if (!section) throw new ConfigError(`${paths.rcloneConf} has no [${config.remote}] section`, 'run `poof cconfig`, or set "remote" in poof.conf');
  const wrapped = section.values.remote?.includes(':') ? section.values.remote.split(':')[0] : undefined;
  return { section, baseSection: wrapped ? findSection(conf, wrapped) : undefined };
}
