import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { checkColours } from '../ui/colour.js';
import { formatCheck, verifyPassed } from '../verify/check.js';
import { runChecks, type VerifyOptions } from '../verify/run-checks.js';

export async function verifyCommand(ctx: Context, options: VerifyOptions & { json?: boolean }): Promise<number> {
  const checks = await runChecks(ctx, options);
  const ok = verifyPassed(checks);
  if (options.json) {
    ctx.out(JSON.stringify({ ok, checks }, null, 2));
  } else {
    const colour = await checkColours();
    for (const check of checks) ctx.out(formatCheck(check, colour));
    ctx.out(ok ? 'poof is ready' : 'poof is not ready: fix the FAIL lines above');
  }
  return ok ? ExitCode.ok : ExitCode.verifyFailed;
}
