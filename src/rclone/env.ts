/** rclone variables that only unlock an encrypted rclone config; everything else RCLONE_* is dropped. */
const KEPT_RCLONE_VARS = new Set(['RCLONE_CONFIG_PASS', 'RCLONE_PASSWORD_COMMAND']);

export interface RcloneEnvironment {
  env: Record<string, string>;
  /** Flags that carry over the intent of variables rclone cannot use as they are. */
  args: string[];
  /** Variables that were dropped, for `poof verify` to mention. */
  dropped: string[];
}

/**
 * Pure: the environment poof gives rclone.
 * - RCLONE_* variables can redefine remotes (RCLONE_CONFIG_<NAME>_TYPE) or flags
 *   (RCLONE_DELETE_BEFORE, RCLONE_DRY_RUN) behind poof's back, so they are dropped; only
 *   those that unlock an encrypted config stay.
 * - AWS_CA_BUNDLE makes every rclone 1.60 S3 call fail ("LoadCustomCABundleError ...
 *   unsupported transport"); the same bundle is passed as --ca-cert instead.
 */
export function rcloneEnvironment(source: Record<string, string | undefined>): RcloneEnvironment {
  const env: Record<string, string> = {};
  const args: string[] = [];
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (key.startsWith('RCLONE_') && !KEPT_RCLONE_VARS.has(key)) {
      dropped.push(key);
      continue;
    }
    if (key === 'AWS_CA_BUNDLE') {
      dropped.push(key);
      if (value.trim() !== '') args.push('--ca-cert', value);
      continue;
    }
    env[key] = value;
  }
  return { env, args, dropped: dropped.sort() };
}
