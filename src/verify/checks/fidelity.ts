import type { PoofConfig } from '../../config/schema.js';
import type { RcloneSection } from '../../rclone/ini.js';
import { isCrypt } from '../../rclone/remote-path.js';
import { keepsModes } from '../../rclone/args.js';
import { storageType } from '../../rclone/remote.js';
import type { Check } from '../check.js';

/**
 * Pure: what a backup keeps of each file on this storage, so nobody learns it from a restore.
 * rclone 1.60 keeps modes (with --metadata) on local and S3 storage only; SFTP and WebDAV keep
 * modification times; crypt keeps no metadata; S3-like storage has no empty directories.
 */
export function fidelityCheck(config: PoofConfig, section: RcloneSection, baseSection: RcloneSection | undefined): Check {
  const backend = storageType(section, baseSection);
  const crypt = isCrypt(section);
  const kept = ['contents', 'modification times'];
  const lost: string[] = [];
  (keepsModes(backend, crypt) ? kept : lost).push('file modes and owners');
  (['s3', 'b2'].includes(backend) ? lost : kept).push('empty directories');
  const links = { follow: 'symbolic links followed (their targets are copied)', links: 'symbolic links kept as links', skip: 'symbolic links skipped' }[config.symlinks ?? 'follow'];
  const where = `${crypt ? 'crypt over ' : ''}${backend === 'alias' ? 'a local directory' : backend}`;
  return {
    id: 'fidelity',
    title: 'fidelity',
    status: 'ok',
    detail: `${where} keeps ${kept.join(', ')}${lost.length ? `; not ${lost.join(' or ')}` : ''}; ${links}`,
  };
}
