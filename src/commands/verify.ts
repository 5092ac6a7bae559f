import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { checkColours } from '../ui/colour.js';
import { verifyPassed } from '../verify/check.js';
import { formatCheck } from '../ui/check-line.js';
import { runChecks } from '../verify/run-checks.js';
import type { OptionsOf, verifySpec } from './specs.js';

export async function verifyCommand(ctx: Context, options: OptionsOf<typeof verifySpec>): Promise<number> {
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
