import { execFileSync } from 'node:child_process';
import { capabilitiesOf, type Capabilities } from '../../src/rclone/capabilities.js';
import { parseRcloneVersion, type RcloneVersion } from '../../src/rclone/version.js';

let cached: RcloneVersion | undefined;

/** The rclone on PATH, which the tests run poof with (the suite runs on 1.60 and the current release). */
export function rcloneOnPath(): RcloneVersion & { can: Capabilities } {
  cached ??= parseRcloneVersion(execFileSync('rclone', ['version'], { env: { PATH: process.env.PATH ?? '', RCLONE_CONFIG: '/dev/null' } }).toString());
  if (!cached) throw new Error('rclone version not found');
  return { ...cached, can: capabilitiesOf(cached) };
}
