import type { PoofConfig } from '../config/schema.js';
import type { RcloneSection } from './ini.js';

/** rclone backends whose remote is a crypt wrapper: it already points into the bucket. */
export function isCrypt(section: RcloneSection | undefined): boolean {
  return section?.values.type === 'crypt';
}

/**
 * Pure: where poof's tree lives on the remote. As in the original poof, a crypt remote wraps
 * `base:bucket` itself, so the bucket is left out of the path.
 */
export function remoteRoot(config: Pick<PoofConfig, 'remote' | 'bucket'>, section: RcloneSection | undefined): string {
  return isCrypt(section) ? `${config.remote}:` : `${config.remote}:${config.bucket}`;
}

export function remotePathFor(config: Pick<PoofConfig, 'remote' | 'bucket'>, section: RcloneSection | undefined, name: string): string {
  const root = remoteRoot(config, section);
  return root.endsWith(':') ? `${root}${name}` : `${root}/${name}`;
}
