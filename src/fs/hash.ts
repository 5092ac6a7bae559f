import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

/** Files up to this size are read whole: one read instead of a stream's machinery. */
const WHOLE = 1 << 20;

/** The hex MD5 of a file's content; `sizeHint` (its expected size) picks one read or a stream. */
export async function md5OfFile(file: string, sizeHint = Infinity): Promise<string> {
  const hash = createHash('md5');
  if (sizeHint <= WHOLE) return hash.update(await readFile(file)).digest('hex');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** The hex MD5 of a small file, read in one synchronous call; undefined when it cannot be read. */
export function md5OfSmallFileSync(file: string): string | undefined {
  try {
    return createHash('md5').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}
