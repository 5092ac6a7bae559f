import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { PoofConfig } from '../../config/schema.js';
import { CRYPT_NAME_LIMIT } from '../../crypt/layout.js';
import type { Check } from '../check.js';

/** Names longer than ~143 characters become too long for many providers once encrypted. */
export async function checkCryptNameLengths(config: PoofConfig): Promise<Check[]> {
  const long: string[] = [];
  for (const dir of Object.keys(config.paths)) {
    const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    for (const rel of entries.slice(0, 200_000)) {
      const name = path.basename(rel);
      if (name.length > CRYPT_NAME_LIMIT) long.push(path.join(dir, rel));
    }
  }
  if (long.length === 0) return [];
  const shown = long.slice(0, 3).join(', ');
  return [{ id: 'crypt-names', title: 'encryption', status: 'warn', detail: `${long.length} names are longer than ${CRYPT_NAME_LIMIT} characters and may be too long once encrypted on some providers: ${shown}${long.length > 3 ? ', ...' : ''}` }];
}
