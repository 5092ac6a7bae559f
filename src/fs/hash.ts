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

/** A file's SHA-256 and MD5 (hex), from one read of it. */
export async function sha256AndMd5OfFile(file: string, sizeHint = Infinity): Promise<{ sha256: string; md5: string }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  if (sizeHint <= WHOLE) {
    const data = await readFile(file);
    return { sha256: sha.update(data).digest('hex'), md5: md5.update(data).digest('hex') };
  }
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk as Buffer);
    md5.update(chunk as Buffer);
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

/** sha256AndMd5OfFile of a small file, in one synchronous read: a tenth of the cost of the promise calls. */
export function sha256AndMd5OfSmallFileSync(file: string): { sha256: string; md5: string } {
  const data = readFileSync(file);
  return { sha256: createHash('sha256').update(data).digest('hex'), md5: createHash('md5').update(data).digest('hex') };
}
