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
