import { createDecipheriv } from 'node:crypto';
import type { Rclone } from './runner.js';
import { RunFailedError } from '../errors.js';

/**
 * rclone's reversible obscuring, as rclone expects sftp/webdav/crypt passwords in its config.
 * The secret goes to `rclone obscure -` on stdin so it never shows in argv (`ps`).
 */
export async function obscureSecret(rclone: Rclone, secret: string): Promise<string> {
  const result = await rclone.run(['obscure', '-'], { input: secret, timeoutMs: 20_000 });
  const value = result.stdout.trim();
  if (result.exitCode !== 0 || value === '') {
    throw new RunFailedError(`rclone obscure failed (exit ${result.exitCode})`);
  }
  return value;
}

/**
 * rclone's fixed key for obscuring (fs/config/obscure in rclone's source). Obscuring only keeps
 * a password from being read at a glance; it is not encryption, which is why the config stays 0600.
 */
const OBSCURE_KEY = Buffer.from('9c935b48730a554d6bfd7c63c886a92bd390198eb8128afbf4de162b8b95f638', 'hex');

/**
 * Pure: the reverse of `rclone obscure` (AES-256-CTR with rclone's fixed key, the IV in front,
 * base64url). Done here rather than by `rclone reveal VALUE`, which would put the secret in argv.
 */
export function revealObscured(obscured: string): string {
  const data = Buffer.from(obscured.trim(), 'base64url');
  if (data.length < 16) throw new RunFailedError('an obscured password in rclone-poof.conf is too short to be one');
  const decipher = createDecipheriv('aes-256-ctr', OBSCURE_KEY, data.subarray(0, 16));
  return Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]).toString('utf8');
}
