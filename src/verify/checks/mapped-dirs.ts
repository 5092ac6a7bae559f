import { readdir } from 'node:fs/promises';
import type { PoofConfig } from '../../config/schema.js';
import type { Check } from '../check.js';

export async function checkMappedDirs(config: PoofConfig, checks: Check[]): Promise<void> {
  for (const [dir, name] of Object.entries(config.paths)) {
    const id = `dir:${name}`;
    try {
      const entries = await readdir(dir);
      checks.push({ id, title: `mapped dir ${name}`, status: 'ok', detail: `${dir} exists (${entries.length} entries)` });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const detail =
        code === 'ENOENT' ? `${dir} does not exist (or its disk is not mounted)` : code === 'ENOTDIR' ? `${dir} is not a directory` : `${dir} cannot be read (${code})`;
      checks.push({ id, title: `mapped dir ${name}`, status: 'fail', detail, hint: 'create or mount it, or remove the mapping with `poof config --unmap`' });
    }
  }
}
