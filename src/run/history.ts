import { appendFile, readFile } from 'node:fs/promises';
import type { MappingResult } from '../engine/result.js';
import { ExitCode } from '../errors.js';

/** One line of history.jsonl: what a run did, without file names or secrets. */
export interface RunRecord {
  command: string;
  started: string;
  ended: string;
  /** cancelled: the user said no, or pressed Ctrl-C at a question. */
  status: 'ok' | 'partial' | 'failed' | 'interrupted' | 'cancelled';
  exitCode: number;
  dryRun: boolean;
  /** Why the run ended before or outside its mappings (config missing, lock held, a hook failed). */
  reason?: string;
  mappings: Array<{
    name: string;
    status: MappingResult['status'] | 'not run';
    reason?: string;
    rcloneExit?: number;
    copied: number;
    deleted: number;
    bytes: number;
    errors: number;
    durationMs: number;
    /** upload: files proven on the remote, wiped locally, and kept. */
    proven?: number;
    wiped?: number;
    kept?: number;
    /** check: files read back from the remote and compared. */
    checked?: number;
  }>;
}

/** Pure: the history record of a run. */
export function toRunRecord(input: {
  command: string;
  started: Date;
  ended: Date;
  exitCode: number;
  /** Set when a signal or the user ended the run; otherwise ok or failed from the results. */
  status?: 'interrupted' | 'cancelled';
  dryRun: boolean;
  results: MappingResult[];
  notRun: string[];
  reason?: string;
}): RunRecord {
  const failed = input.results.some((r) => r.status !== 'ok');
  return {
    command: input.command,
    started: input.started.toISOString(),
    ended: input.ended.toISOString(),
    status: input.status ?? (input.exitCode === ExitCode.partial ? 'partial' : failed || input.exitCode !== 0 ? 'failed' : 'ok'),
    exitCode: input.exitCode,
    dryRun: input.dryRun,
    ...(input.reason ? { reason: input.reason } : {}),
    mappings: [
      ...input.results.map((r) => ({
        name: r.name,
        status: r.status,
        ...(r.reason ? { reason: r.reason } : {}),
        ...(r.rcloneExit !== undefined ? { rcloneExit: r.rcloneExit } : {}),
        copied: r.copied,
        deleted: r.deleted,
        bytes: r.stats?.bytes ?? 0,
        errors: r.stats?.errors ?? r.errors.length,
        durationMs: r.durationMs,
        ...(r.kind === 'upload' && r.upload ? { proven: r.upload.proven, wiped: r.upload.wiped, kept: r.upload.kept } : {}),
        ...(r.kind === 'check' ? { checked: r.checked } : {}),
      })),
      ...input.notRun.map((name) => ({ name, status: 'not run' as const, copied: 0, deleted: 0, bytes: 0, errors: 0, durationMs: 0 })),
    ],
  };
}

export async function appendRunRecord(file: string, record: RunRecord): Promise<void> {
  await appendFile(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** The last `count` records; a damaged line is skipped rather than failing `poof status`. */
export async function readRunRecords(file: string, count: number): Promise<RunRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const records: RunRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as RunRecord);
    } catch {
      // skip
    }
  }
  return records.slice(-count);
}
