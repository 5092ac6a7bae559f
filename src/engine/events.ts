import type { RcloneStats } from '../rclone/log-parse.js';
import type { MappingPlan } from './plan.js';
import type { TransferResult } from './result.js';

/** backup: local -> remote; restore: remote -> local. */
export type Direction = 'backup' | 'restore';

/**
 * What the engine tells while it runs, as data. `ui/` renders it (task list, plain lines, or
 * nothing for --json); the engine never writes to the terminal.
 */
export type MappingEvent =
  | { type: 'progress'; name: string; stats: RcloneStats }
  /** A phase after the copy (proving, wiping). */
  | { type: 'phase'; name: string; text: string }
  | { type: 'rclone-error'; name: string; message: string }
  /** --dry-run: one file that would be copied or deleted. */
  | { type: 'planned'; name: string; action: 'copy' | 'delete'; object: string };

export type EngineEvent<R extends TransferResult = TransferResult> =
  | MappingEvent
  | { type: 'start'; plan: MappingPlan }
  | { type: 'end'; result: R }
  /** Not started because the run was interrupted. */
  | { type: 'not-started'; name: string };

export type EmitEvent<R extends TransferResult = TransferResult> = (event: EngineEvent<R>) => void;
