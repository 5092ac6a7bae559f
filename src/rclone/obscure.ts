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
