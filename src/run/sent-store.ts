import path from 'node:path';
import { readTextIfExists } from '../config/store.js';
import { shortHash } from '../config/paths.js';
import { ensurePrivateDir, writeFileAtomic } from '../fs/atomic-write.js';
import type { MappingPlan } from '../engine/plan.js';
import type { SentRecord } from '../engine/sent-record.js';
import type { SentStore } from '../engine/sent-transfer.js';
import { asDict } from '../dict.js';

/**
 * Records of what was sent, one file per local directory and remote path, in the state dir. Each
 * says which storage it was sent to: a record of other storage behind the same remote name (after
 * `poof cconfig --force`) is no record at all.
 */
export function sentStoreIn(stateDir: string, storage: string): SentStore {
  const dir = path.join(stateDir, 'sent');
  const file = (plan: MappingPlan) => path.join(dir, `${shortHash(`${plan.localDir}\u0000${plan.remotePath}`)}.json`);
  return {
    async read(plan) {
      const text = await readTextIfExists(file(plan));
      if (text === undefined) return undefined;
      try {
        const data = JSON.parse(text) as { storage?: unknown; files?: unknown };
        if (data.storage !== storage) return undefined;
        const files = data.files;
        return typeof files === 'object' && files !== null && !Array.isArray(files) ? asDict(files as SentRecord) : undefined;
      } catch {
        return undefined;
      }
    },
    async write(plan, record) {
      await ensurePrivateDir(dir);
      await writeFileAtomic(file(plan), `${JSON.stringify({ localDir: plan.localDir, remotePath: plan.remotePath, storage, files: record })}\n`);
    },
  };
}
