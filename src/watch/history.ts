import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { historyFolder } from '../rclone/history-args.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import type { Rclone } from '../rclone/runner.js';
import { startHistory, type HistoryRun } from '../run/transfer.js';

/** Pure: the folder id of a watch window's n-th batch (1: the window's run id; then `<id>-000002`, ...), sorting in order as text. */
export function batchFolderId(runId: string, n: number): string {
  return n === 1 ? runId : `${runId}-${String(n).padStart(6, '0')}`;
}

/**
 * Where `poof watch` keeps what its batches replace, with history on. A window of batches has a
 * run id of its own, taken as a backup takes one (after every run this machine knows), and each
 * batch its own folder under it, so no batch ever replaces a version an earlier one kept: the
 * first batch that replaced a file kept the version every earlier run had, and later batches
 * keep the versions in between (which no run recorded, and a prune removes). The window has no
 * record of its own: the full backup that ends it records the mirror as it then is (the mirror is
 * marked as changed by every batch, so that backup lists it). A window ends when any other run
 * has started since it began (that backup, or one the user ran): a batch must never keep
 * versions in a folder older than a run that recorded them.
 */
export class WatchHistory {
  private window: { run: HistoryRun; batches: number } | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly config: PoofConfig,
    private readonly remote: ResolvedRemote,
    private readonly rclone: Rclone,
  ) {}

  /** The folder for the next batch of mapping `name`, with the mirror marked as changing; undefined with history off. */
  async folderFor(name: string): Promise<string | undefined> {
    if (this.config.history === false) return undefined;
    const last = await this.window?.run.cache.lastStarted();
    if (!this.window || last !== this.window.run.runId) {
      const run = await startHistory(this.ctx, this.config, this.remote, this.rclone, 'watch', false);
      if (!run) return undefined;
      this.window = { run, batches: 0 };
    }
    await this.window.run.cache.markChanging(name, true);
    this.window.batches++;
    return historyFolder(this.remote.root, batchFolderId(this.window.run.runId, this.window.batches), name);
  }
}
