import { UsageError } from '../errors.js';
import { askPassword } from './prompts.js';

export interface SecretSources {
  /** --secret-stdin was given. */
  fromStdin: boolean;
  env: Record<string, string | undefined>;
  interactive: boolean;
}

export const SECRET_ENV = 'POOF_SECRET';

/**
 * A secret from standard input (--secret-stdin), else $POOF_SECRET, else a masked prompt on a
 * terminal. Never from argv. Undefined when none is available and none may be asked for.
 */
export async function readSecret(label: string, sources: SecretSources): Promise<string | undefined> {
  if (sources.fromStdin) {
    const text = (await readAll(process.stdin)).replace(/\r?\n$/, '');
    if (text === '') throw new UsageError(`--secret-stdin: standard input was empty`, `pipe the ${label.toLowerCase()} in`);
    return text;
  }
  const fromEnv = sources.env[SECRET_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!sources.interactive) return undefined;
  return askPassword({ message: `${label}:`, mask: '*', validate: (v) => (v === '' ? 'cannot be empty' : true) });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}
