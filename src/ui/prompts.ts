import type { checkbox as Checkbox, confirm as Confirm, input as Input, password as Password, select as Select } from '@inquirer/prompts';
import { CancelledError, DeclinedError } from '../errors.js';

/**
 * Every question poof asks goes through here. The prompt library rejects with ExitPromptError
 * when the user presses Ctrl-C (the terminal is in raw mode, so no SIGINT arrives): that is a
 * cancellation like a signal, exit 130 with one line, never an unexpected error.
 */
async function ask<T>(run: (prompts: typeof import('@inquirer/prompts')) => Promise<T>): Promise<T> {
  const prompts = await import('@inquirer/prompts');
  try {
    return await run(prompts);
  } catch (error) {
    // ExitPromptError: Ctrl-C at the prompt; AbortPromptError: a signal arrived while it waited.
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError')) throw new CancelledError();
    throw error;
  }
}

export const askConfirm = (config: Parameters<typeof Confirm>[0]) => ask((p) => p.confirm(config));
export const askInput = (config: Parameters<typeof Input>[0]) => ask((p) => p.input(config));
export const askPassword = (config: Parameters<typeof Password>[0]) => ask((p) => p.password(config));
export const askSelect = <V>(config: Parameters<typeof Select<V>>[0]) => ask((p) => p.select<V>(config));
export const askCheckbox = <V>(config: Parameters<typeof Checkbox<V>>[0]) => ask((p) => p.checkbox<V>(config));

/** Ask a yes/no question; a "no" ends the command with `declined` (exit 1, nothing done). */
export async function confirmOrDecline(message: string, declined: string, signal?: AbortSignal): Promise<void> {
  const answer = await ask((p) => p.confirm({ message, default: false }, signal ? { signal } : {}));
  if (!answer) throw new DeclinedError(declined);
}
