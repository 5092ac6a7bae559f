import type { Context } from '../../context.js';
import { PoofError } from '../../errors.js';
import { capabilitiesOf, describeCapabilities } from '../../rclone/capabilities.js';
import type { Rclone } from '../../rclone/runner.js';
import type { Check } from '../check.js';

export async function checkRclone(ctx: Context, checks: Check[]): Promise<Rclone | undefined> {
  try {
    const rclone = await ctx.locateRclone({ cacheVersion: 'refresh' });
    const capabilities = capabilitiesOf(rclone.version);
    checks.push({
      id: 'rclone',
      title: 'rclone',
      status: 'ok',
      detail: `${rclone.version.text} at ${rclone.bin}; ${describeCapabilities(capabilities)}`,
      facts: { version: rclone.version.text, capabilities },
    });
    return rclone;
  } catch (error) {
    if (!(error instanceof PoofError)) throw error;
    checks.push({ id: 'rclone', title: 'rclone', status: 'fail', detail: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    return undefined;
  }
}
