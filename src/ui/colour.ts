import type { CheckStatus } from '../verify/check.js';

/** The colour of each verify status, through chalk (which honours NO_COLOR via FORCE_COLOR=0, set by cli.ts). */
export async function checkColours(): Promise<(status: CheckStatus, text: string) => string> {
  const { default: chalk } = await import('chalk');
  const colours: Record<CheckStatus, (text: string) => string> = { ok: chalk.green, warn: chalk.yellow, fail: chalk.red, skip: chalk.dim };
  return (status, text) => colours[status](text);
}
