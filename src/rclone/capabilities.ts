import { atLeast, type RcloneVersion } from './version.js';

/** What poof relies on that changed between rclone releases (rclone's changelog). */
export interface Capabilities {
  /** bisync's maturity: experimental before 1.66, beta from 1.66, stable from 1.71. */
  bisync: 'experimental' | 'beta' | 'stable';
  /** bisync --resilient, --recover, --conflict-resolve, --backup-dir1/2, --max-lock (1.66). */
  bisyncSafetyFlags: boolean;
  /** Uploads to local, SFTP and FTP storage go through a ".partial" file and a rename (1.63). */
  partialUploads: boolean;
  /** Usage errors exit 2 (1.69); before, 1 like any other error. */
  usageExit2: boolean;
  /** --max-delete-size (1.62). */
  maxDeleteSize: boolean;
  /** `rclone serve s3` (1.65). */
  serveS3: boolean;
  /** `rclone rcd` answers only authenticated calls (1.74). */
  rcdNeedsAuth: boolean;
}

/** The one table: each ability with the first release that has it. */
const SINCE: Record<Exclude<keyof Capabilities, 'bisync'>, [number, number]> = {
  bisyncSafetyFlags: [1, 66],
  partialUploads: [1, 63],
  usageExit2: [1, 69],
  maxDeleteSize: [1, 62],
  serveS3: [1, 65],
  rcdNeedsAuth: [1, 74],
};

/** Pure: what this rclone can do. */
export function capabilitiesOf(version: RcloneVersion): Capabilities {
  const has = (key: keyof typeof SINCE) => atLeast(version, ...SINCE[key]);
  return {
    bisync: atLeast(version, 1, 71) ? 'stable' : atLeast(version, 1, 66) ? 'beta' : 'experimental',
    bisyncSafetyFlags: has('bisyncSafetyFlags'),
    partialUploads: has('partialUploads'),
    usageExit2: has('usageExit2'),
    maxDeleteSize: has('maxDeleteSize'),
    serveS3: has('serveS3'),
    rcdNeedsAuth: has('rcdNeedsAuth'),
  };
}

/** Pure: what the version means for a backup, in a few words for `poof verify`. */
export function describeCapabilities(capabilities: Capabilities): string {
  return [
    capabilities.partialUploads
      ? 'an interrupted upload to local or SFTP storage leaves a .partial file, never a cut-short one'
      : 'an interrupted upload to local or SFTP storage leaves that file cut short until the next backup (rclone 1.63 writes through a .partial file)',
    `bisync: ${capabilities.bisync}`,
  ].join('; ');
}
