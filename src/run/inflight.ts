import type { EngineEvent } from '../engine/events.js';
import type { TransferResult } from '../engine/result.js';
import { updateUnfinished } from './unfinished.js';

/**
 * Keep, for one mapping's backup, the names of the files rclone is writing, in the state file,
 * until the mapping finished: after a SIGKILL or a power cut those files may be partial on
 * storage that writes in place (local and SFTP on rclone 1.60), and a restore says so.
 */
export async function trackBackup(file: string, name: string) {
  let previous = new Set<string>();
  let saved = '';
  let writes = Promise.resolve();
  const save = (change: Parameters<typeof updateUnfinished>[1]) => {
    writes = writes.then(() => updateUnfinished(file, change)).catch(() => {
      // Only a warning for a later restore; the backup itself goes on.
    });
    return writes;
  };
  const started = new Date().toISOString();
  await save((state) => {
    state.backups[name] = { started, inFlight: [] };
  });
  return {
    see(event: EngineEvent) {
      if (event.type !== 'progress' || event.name !== name) return;
      // This tick's files and the last tick's: rclone reports once a second, and a file that was
      // finishing between two reports is then still named.
      const now = new Set(event.stats.transferring);
      const names = [...new Set([...previous, ...now])].sort();
      previous = now;
      const key = names.join('\n');
      if (key === saved) return;
      saved = key;
      void save((state) => {
        state.backups[name] = { started, inFlight: names };
      });
    },
    async finish(result: TransferResult) {
      // The copy itself finished (an upload may still fail its proof afterwards).
      if (result.rcloneExit === 0) await save((state) => void delete state.backups[name]);
      else await writes;
    },
  };
}
