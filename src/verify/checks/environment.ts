import type { Context } from '../../context.js';
import { rcloneEnvironment } from '../../rclone/env.js';
import type { Check } from '../check.js';

export function checkEnvironment(ctx: Context, checks: Check[]): void {
  const { dropped } = rcloneEnvironment(ctx.env);
  if (dropped.length === 0) return;
  const notes = dropped.map((name) => (name === 'AWS_CA_BUNDLE' ? 'AWS_CA_BUNDLE (passed to rclone as --ca-cert, since rclone cannot use it)' : name));
  checks.push({ id: 'environment', title: 'environment', status: 'warn', detail: `not passed to rclone: ${notes.join(', ')}` });
}
