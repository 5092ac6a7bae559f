import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import type { ResolvedRemote } from '../../rclone/remote.js';
import type { Rclone } from '../../rclone/runner.js';
import { DEFAULT_KEEP } from '../../versions/retention.js';
import { listHistory, ManifestCache, totalsOf } from '../../versions/store.js';
import type { Check } from '../check.js';
import { listVaultRuns } from '../../vault/records.js';

/** How much history the remote keeps and under which policy (one listing of .poof-history). */
export async function checkHistory(ctx: Context, rclone: Rclone, config: PoofConfig, remote: ResolvedRemote): Promise<Check> {
  const title = 'history';
  if (config.mode === 'append-only') {
    try {
      const ids = [...(await listVaultRuns(rclone, remote)).values()].flat().sort();
      if (ids.length === 0) return { id: title, title, status: 'ok', detail: 'append-only: no run stored yet (the next backup stores the first)' };
      return { id: title, title, status: 'ok', detail: `append-only: ${ids.length} ${ids.length === 1 ? 'run' : 'runs'} stored (${ids[0]} to ${ids.at(-1)}); none is ever removed by this machine` };
    } catch (error) {
      return { id: title, title, status: 'fail', detail: (error as Error).message, hint: 'check the remote with `poof verify`, then `poof history`' };
    }
  }
  if (config.history === false) return { id: title, title, status: 'ok', detail: 'off ("history": false): a pure mirror, so what a backup replaces or deletes is gone' };
  const keep = config.keep ?? DEFAULT_KEEP;
  const policy = Object.entries(keep).map(([rule, value]) => `${rule} ${value}`).join(', ');
  try {
    const cache = new ManifestCache(ctx.paths.stateDir, remote);
    const totals = totalsOf(await listHistory(rclone, remote, undefined, cache), new Date());
    if (totals.runs === 0) return { id: title, title, status: 'ok', detail: `on; no run kept yet (the next backup that changes something starts it); keep: ${policy}` };
    return {
      id: title,
      title,
      status: 'ok',
      // Run ids as `poof history` and `restore --at` take them; bytes exact (verify never imports ui/).
      detail: `${totals.runs} ${totals.runs === 1 ? 'run' : 'runs'} kept (${totals.oldest} to ${totals.newest}), ${totals.versions} replaced versions (${totals.bytes} bytes); keep: ${policy}`,
    };
  } catch (error) {
    return { id: title, title, status: 'fail', detail: (error as Error).message, hint: 'check the remote with `poof verify`, then `poof history`' };
  }
}
