import { RUN_ID, timeOfRunId } from './run-id.js';

/** What `--at WHEN` asks for: the last complete run at or before a time, or one run by its id. */
export type When = { kind: 'time'; at: Date } | { kind: 'run'; id: string };

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * Pure: read `--at`. Accepted: a run id (`20261120T130000Z`, as `poof history` lists them); a
 * date `2026-11-20` (local time: the end of that day, so the last run on that day or before);
 * a local time `2026-11-20T14:00` or `2026-11-20 14:00[:ss]`; a UTC time ending in `Z`; an age
 * `30m`, `12h`, `3d`, `2w` (that long before now). Undefined when it is none of these.
 */
export function parseWhen(input: string, now: Date): When | undefined {
  const text = input.trim();
  if (RUN_ID.test(text)) return { kind: 'run', id: text };
  const age = /^(\d+)([mhdw])$/.exec(text);
  if (age) return { kind: 'time', at: new Date(now.getTime() - Number(age[1]) * UNITS[age[2]!]!) };
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const end = new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3]), 23, 59, 59, 999);
    return validDay(end, day) ? { kind: 'time', at: end } : undefined;
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text);
  if (local) {
    const at = new Date(Number(local[1]), Number(local[2]) - 1, Number(local[3]), Number(local[4]), Number(local[5]), Number(local[6] ?? 0), 999);
    return validDay(at, local) && at.getHours() === Number(local[4]) && at.getMinutes() === Number(local[5]) ? { kind: 'time', at } : undefined;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/.test(text)) {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? undefined : { kind: 'time', at };
  }
  return undefined;
}

/** 2026-02-30 is not a day: Date would quietly make it March 2. */
function validDay(date: Date, parts: RegExpExecArray): boolean {
  return date.getFullYear() === Number(parts[1]) && date.getMonth() === Number(parts[2]) - 1 && date.getDate() === Number(parts[3]);
}

/**
 * Pure: the run `--at` means among the complete runs: the last at or before the time, or the
 * run with that id (which may be an incomplete one: asked for by name). Undefined when none.
 */
export function pickRun(when: When, runs: Array<{ id: string; complete: boolean }>): string | undefined {
  if (when.kind === 'run') return runs.find((r) => r.id === when.id)?.id;
  return runs
    .filter((r) => r.complete && timeOfRunId(r.id).getTime() <= when.at.getTime())
    .map((r) => r.id)
    .sort()
    .at(-1);
}
