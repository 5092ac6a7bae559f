import { readTextIfExists } from '../config/store.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { asDict, dict } from '../dict.js';

/** A restore into localDir that started and has not finished (interrupted, killed, failed). */
export interface UnfinishedRestore {
  name: string;
  localDir: string;
  started: string;
}

/** A backup of a mapping that started and has not finished, with the files rclone was writing. */
export interface UnfinishedBackup {
  started: string;
  inFlight: string[];
}

/**
 * What survives a SIGKILL or a power cut: written before a restore or backup starts changing
 * anything and removed only when it finished. A later run reads it to refuse (a backup of a
 * half-restored directory would replace the good remote copy) or to warn (files a killed backup
 * was writing may be partial on storage that writes in place).
 */
export interface Unfinished {
  /** By local directory. */
  restores: Record<string, UnfinishedRestore>;
  /** By mapping name. */
  backups: Record<string, UnfinishedBackup>;
}

export async function readUnfinished(file: string): Promise<Unfinished> {
  const text = await readTextIfExists(file);
  if (text === undefined) return { restores: dict(), backups: dict() };
  try {
    const data = JSON.parse(text) as Partial<Unfinished>;
    return { restores: asDict(data.restores ?? {}), backups: asDict(data.backups ?? {}) };
  } catch {
    // Unreadable: say nothing is unfinished rather than block every run; the next write repairs it.
    return { restores: dict(), backups: dict() };
  }
}

/** Read, change and write back atomically (runs hold the lock, so there is one writer). */
export async function updateUnfinished(file: string, change: (state: Unfinished) => void): Promise<void> {
  const state = await readUnfinished(file);
  change(state);
  await writeFileAtomic(file, `${JSON.stringify(state, null, 1)}\n`);
}
