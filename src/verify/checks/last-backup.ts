import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import { readRunRecords } from '../../run/history.js';
import { DEFAULT_STALE_AFTER_HOURS, describeStaleMapping, findStaleMappings } from '../../run/stale.js';
import type { Check } from '../check.js';

/** A warning, never a failure: verify answers "is poof ready", and a stale copy does not stop it. */
export async function checkLastBackups(ctx: Context, config: PoofConfig): Promise<Check> {
  const hours = config.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS;
  const stale = findStaleMappings(Object.values(config.paths), await readRunRecords(ctx.paths.historyFile, Infinity), new Date(), hours);
  const title = 'last backup';
  if (stale.length === 0) return { id: 'last-backup', title, status: 'ok', detail: `every mapping was backed up successfully within ${hours} hours` };
  return {
    id: 'last-backup',
    title,
    status: 'warn',
    detail: stale.map((s) => describeStaleMapping(s, hours)).join('; '),
    hint: `run \`poof backup\` and check its schedule with \`poof schedule status\`; "staleAfterHours" in poof.conf sets the limit`,
  };
}
