import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A small tree with the names that trip tools up: spaces, unicode, deep nesting. */
export async function writeSampleTree(dir: string): Promise<void> {
  const files: Record<string, string | Buffer> = {
    'plain.txt': 'plain\n',
    'with space.txt': 'space\n',
    'ünïcødé 文件.md': 'unicode\n',
    'a/b/c/d/e/f/deep file.txt': 'deep\n',
    'bin/blob.bin': Buffer.alloc(300_000, 0xab),
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
}

/** Every file below dir, relative path -> content, for byte-for-byte comparisons. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else out.set(rel, await readFile(path.join(dir, rel)));
    }
  };
  await walk('');
  return out;
}
