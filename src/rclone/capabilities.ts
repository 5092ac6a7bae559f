import type { PoofConfig } from '../config/schema.js';
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
  /** `--metadata` keeps directories' modes and times too, where the storage has them (1.66). */
  directoryMetadata: boolean;
  /**
   * `--links` with `--metadata` sets a link's own mode and owner, not its target's (1.68.2,
   * CVE-2024-52522): before, a backup or restore made link targets, even outside the mapping, 0777.
   */
  linksWithMetadata: boolean;
  /**
   * A restore never follows a restored link out of its destination (1.74.4, CVE-2026-54572), and
   * never sets setuid, setgid or sticky bits from metadata unless asked (1.74.4).
   */
  confinedLinks: boolean;
  /** A remote file name such as "../x" is never written outside the destination (1.75.0, CVE-2026-71313). */
  confinedNames: boolean;
  /** `rclone serve s3` (1.65). */
  serveS3: boolean;
  /** `rclone rcd` answers only authenticated calls (1.74). */
  rcdNeedsAuth: boolean;
}

type Since = [major: number, minor: number, patch?: number];

/** The one table: each ability with the first release that has it. */
const SINCE: Record<Exclude<keyof Capabilities, 'bisync'>, Since> = {
  bisyncSafetyFlags: [1, 66],
  partialUploads: [1, 63],
  usageExit2: [1, 69],
  maxDeleteSize: [1, 62],
  directoryMetadata: [1, 66],
  linksWithMetadata: [1, 68, 2],
  confinedLinks: [1, 74, 4],
  confinedNames: [1, 75, 0],
  serveS3: [1, 65],
  rcdNeedsAuth: [1, 74],
};

/** Pure: the release that first has an ability, as users write it ("1.68.2"). */
export function firstReleaseWith(ability: keyof typeof SINCE): string {
  const [major, minor, patch] = SINCE[ability];
  return patch ? `${major}.${minor}.${patch}` : `${major}.${minor}`;
}

/** Pure: what this rclone can do. */
export function capabilitiesOf(version: RcloneVersion): Capabilities {
  const has = (key: keyof typeof SINCE) => atLeast(version, ...SINCE[key]);
  return {
    bisync: atLeast(version, 1, 71) ? 'stable' : atLeast(version, 1, 66) ? 'beta' : 'experimental',
    bisyncSafetyFlags: has('bisyncSafetyFlags'),
    partialUploads: has('partialUploads'),
    usageExit2: has('usageExit2'),
    maxDeleteSize: has('maxDeleteSize'),
    directoryMetadata: has('directoryMetadata'),
    linksWithMetadata: has('linksWithMetadata'),
    confinedLinks: has('confinedLinks'),
    confinedNames: has('confinedNames'),
    serveS3: has('serveS3'),
    rcdNeedsAuth: has('rcdNeedsAuth'),
  };
}

/** Pure: what the version means for a backup, in a few words for `poof verify`. */
export function describeCapabilities(capabilities: Capabilities): string {
  return [
    capabilities.partialUploads
      ? 'an interrupted upload to local or SFTP storage leaves a .partial file, never a cut-short one'
      : `an interrupted upload to local or SFTP storage leaves that file cut short until the next backup (rclone ${firstReleaseWith('partialUploads')} writes through a .partial file)`,
    capabilities.linksWithMetadata ? 'modes kept with "symlinks": "links"' : `no modes with "symlinks": "links" (needs rclone ${firstReleaseWith('linksWithMetadata')})`,
    `bisync: ${capabilities.bisync}`,
  ].join('; ');
}

/** A poof.conf setting that only newer rclone releases can carry out. */
interface Need {
  setting: string;
  ability: keyof typeof SINCE;
  wanted: (config: PoofConfig) => boolean;
}

const NEEDS: Need[] = [{ setting: 'rclone.maxDeleteSize', ability: 'maxDeleteSize', wanted: (config) => config.rclone?.maxDeleteSize !== undefined }];

/**
 * Pure: the first poof.conf setting this rclone cannot carry out, as one line, or undefined.
 * A run refuses rather than silently leave a safety limit out.
 */
export function unmetNeed(config: PoofConfig, version: RcloneVersion): string | undefined {
  const capabilities = capabilitiesOf(version);
  const need = NEEDS.find((n) => n.wanted(config) && !capabilities[n.ability]);
  return need ? `poof.conf "${need.setting}" needs rclone ${firstReleaseWith(need.ability)} or newer; this is ${version.text}` : undefined;
}
