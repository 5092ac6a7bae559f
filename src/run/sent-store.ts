import path from 'node:path';
import { readTextIfExists } from '../config/store.js';
import { shortHash } from '../config/paths.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import type { MappingPlan } from '../engine/plan.js';
import type { SentRecord } from '../engine/sent-record.js';
import type { SentStore } from '../engine/sent-transfer.js';
import type { ManifestCache } from '../versions/store.js';
import { asDict } from '../dict.js';

/**
 * Records of what was sent, one file per local directory and remote path, in the storage's own
 * cache folder: cleared with it when the same remote name is pointed at other storage (after
 * `poof cconfig --force`), so a record of other storage, or of this one before it was left and
 * changed, never stands in for what it holds.
 */
export function sentStoreIn(cache: Pick<ManifestCache, 'sentDir'>): SentStore {
  const file = async (plan: MappingPlan) => path.join(await cache.sentDir(), `${shortHash(`${plan.localDir}\u0000${plan.remotePath}`)}.json`);
  return {
    async read(plan) {
      const text = await readTextIfExists(await file(plan));
      if (text === undefined) return undefined;
      try {
        const files = (JSON.parse(text) as { files?: unknown }).files;
        return typeof files === 'object' && files !== null && !Array.isArray(files) ? asDict(files as SentRecord) : undefined;
      } catch {
        return undefined;
      }
    },
    async write(plan, record) {
      const target = await file(plan);
      await ensurePrivateDir(path.dirname(target));
      await writeFileAtomic(target, `${JSON.stringify({ localDir: plan.localDir, remotePath: plan.remotePath, files: record })}\n`);
    },
  };
}
