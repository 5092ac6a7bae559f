import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface TreeSpec {
  /** Small files of 1-16 KiB, 100 to a directory. */
  smallFiles: number;
  largeFiles: number;
  largeMiB: number;
}

/** A deterministic tree (same names and sizes every run), so runs compare like for like. */
export async function generateTree(dir: string, spec: TreeSpec): Promise<{ files: number; bytes: number }> {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  let bytes = 0;
  for (let i = 0; i < spec.smallFiles; i++) {
    const sub = path.join(dir, 'small', `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) await mkdir(sub, { recursive: true });
    const size = 1024 + (next() % (15 * 1024));
    const content = Buffer.alloc(size, i % 251);
    content.writeUInt32LE(next(), 0);
    await writeFile(path.join(sub, `file ${i}.txt`), content);
    bytes += size;
  }
  if (spec.largeFiles > 0) await mkdir(path.join(dir, 'large'), { recursive: true });
  for (let i = 0; i < spec.largeFiles; i++) {
    const size = spec.largeMiB * 1024 * 1024;
    const content = Buffer.alloc(size);
    for (let off = 0; off + 4 <= size; off += 4096) content.writeUInt32LE(next(), off);
    await writeFile(path.join(dir, 'large', `big-${i}.bin`), content);
    bytes += size;
  }
  return { files: spec.smallFiles + spec.largeFiles, bytes };
}
