export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
  hint?: string;
  /** Facts for --json beside the line (e.g. the rclone version's capabilities). */
  facts?: Record<string, unknown>;
}

/** Pure: verify passes only when no check failed or had to be skipped. */
export function verifyPassed(checks: Check[]): boolean {
  return checks.every((c) => c.status === 'ok' || c.status === 'warn');
}

const LABEL: Record<CheckStatus, string> = { ok: '  ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** Pure: one line per check. `paint` colours the status word (identity when not a terminal). */
export function formatCheck(check: Check, paint: (status: CheckStatus, text: string) => string = (_s, t) => t): string {
  const hint = check.hint ? ` (fix: ${check.hint})` : '';
  return `${paint(check.status, LABEL[check.status])}  ${check.title}: ${check.detail}${hint}`;
}
