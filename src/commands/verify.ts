import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { formatCheck, verifyPassed, type CheckStatus } from '../verify/check.js';
import { runChecks, type VerifyOptions } from '../verify/run-checks.js';

export async function verifyCommand(ctx: Context, options: VerifyOptions & { json?: boolean }): Promise<number> {
  const checks = await runChecks(ctx, options);
  const ok = verifyPassed(checks);
  if (options.json) {
    ctx.out(JSON.stringify({ ok, checks }, null, 2));
  } else {
    const { default: chalk } = await import('chalk');
    const colours: Record<CheckStatus, (text: string) => string> = { ok: chalk.green, warn: chalk.yellow, fail: chalk.red, skip: chalk.dim };
    for (const check of checks) ctx.out(formatCheck(check, (status, text) => colours[status](text)));
    ctx.out(ok ? 'poof is ready' : 'poof is not ready: fix the FAIL lines above');
  }
  return ok ? ExitCode.ok : ExitCode.verifyFailed;
}
