import type { Check, CheckStatus } from '../verify/check.js';

const LABEL: Record<CheckStatus, string> = { ok: '  ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** Pure: one line per check. `paint` colours the status word (identity when not a terminal). */
export function formatCheck(check: Check, paint: (status: CheckStatus, text: string) => string = (_s, t) => t): string {
  const hint = check.hint ? ` (fix: ${check.hint})` : '';
  return `${paint(check.status, LABEL[check.status])}  ${check.title}: ${check.detail}${hint}`;
}
