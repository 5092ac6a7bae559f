// Module hooks that record every import specifier to $POOF_IMPORT_LOG (see record-imports.ts).
import { appendFileSync } from 'node:fs';

type Next = (specifier: string, context: unknown) => Promise<unknown>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<unknown> {
  const log = process.env.POOF_IMPORT_LOG;
  if (log) appendFileSync(log, `${specifier}\n`);
  return next(specifier, context);
}
