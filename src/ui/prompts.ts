import type { checkbox as Checkbox, confirm as Confirm, input as Input, password as Password, select as Select } from '@inquirer/prompts';
import { CancelledError, DeclinedError } from '../errors.js';

/**
 * Every question poof asks goes through here. The prompt library rejects with ExitPromptError
 * when the user presses Ctrl-C (the terminal is in raw mode, so no SIGINT arrives): that is a
 * cancellation like a signal, exit 130 with one line, never an unexpected error.
 */
async function ask<T>(run: (prompts: typeof import('@inquirer/prompts'), context: { signal: AbortSignal }) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const prompts = await import('@inquirer/prompts');
  // Ctrl-D (end of input) closes the prompt's reader without settling its promise: nothing is
  // left to run and node would exit 0 mid-run, leaving the lock. Node says so first with
  // 'beforeExit'; the question is then cancelled like Ctrl-C.
  const controller = new AbortController();
  const inputEnded = () => controller.abort(new Error('end of input'));
  const forward = () => controller.abort(outer?.reason);
  process.once('beforeExit', inputEnded);
  if (outer?.aborted) forward();
  outer?.addEventListener('abort', forward, { once: true });
  try {
    return await run(prompts, { signal: controller.signal });
  } catch (error) {
    // ExitPromptError: Ctrl-C at the prompt; AbortPromptError: a signal or the end of input.
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) throw new CancelledError();
    throw error;
  } finally {
    process.off('beforeExit', inputEnded);
    outer?.removeEventListener('abort', forward);
  }
}

export const askConfirm = (config: Parameters<typeof Confirm>[0]) => ask((p, c) => p.confirm(config, c));
export const askInput = (config: Parameters<typeof Input>[0]) => ask((p, c) => p.input(config, c));
export const askPassword = (config: Parameters<typeof Password>[0]) => ask((p, c) => p.password(config, c));
export const askSelect = <V>(config: Parameters<typeof Select<V>>[0]) => ask((p, c) => p.select<V>(config, c));
export const askCheckbox = <V>(config: Parameters<typeof Checkbox<V>>[0]) => ask((p, c) => p.checkbox<V>(config, c));

/** Ask a yes/no question; a "no" ends the command with `declined` (exit 1, nothing done). */
export async function confirmOrDecline(message: string, declined: string, signal?: AbortSignal): Promise<void> {
  const answer = await ask((p, c) => p.confirm({ message, default: false }, c), signal);
  if (!answer) throw new DeclinedError(declined);
}
