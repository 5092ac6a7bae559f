import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
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

/**
 * Every file below dir, relative path -> content, for byte-for-byte comparisons. With `links`, a
 * symbolic link is itself an entry, `-> target`, and never followed.
 */
export async function readTree(dir: string, options: { links?: boolean } = {}): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (sub: string): Promise<void> => {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      const rel = path.join(sub, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else if (options.links && entry.isSymbolicLink()) out.set(rel, Buffer.from(`-> ${await readlink(path.join(dir, rel))}`));
      else out.set(rel, await readFile(path.join(dir, rel)));
    }
  };
  await walk('');
  return out;
}

export interface FileMeta {
  mode: number;
  /** Whole seconds: SFTP keeps modification times to the second. */
  mtime: number;
}

/** Give the sample tree modes and modification times a restore must bring back. */
export async function setSampleMeta(dir: string): Promise<void> {
  const { chmod, utimes } = await import('node:fs/promises');
  const files = [...(await readTree(dir)).keys()].sort();
  let when = Date.UTC(2021, 4, 6, 7, 8, 9) / 1000;
  for (const rel of files) {
    await utimes(path.join(dir, rel), when, when);
    when += 3600;
  }
  await chmod(path.join(dir, 'plain.txt'), 0o640);
  await chmod(path.join(dir, 'bin/blob.bin'), 0o755);
}

/** Relative path -> mode and modification time of every file below dir. */
export async function readTreeMeta(dir: string, options: { links?: boolean } = {}): Promise<Map<string, FileMeta>> {
  const { lstat, stat } = await import('node:fs/promises');
  const out = new Map<string, FileMeta>();
  for (const rel of (await readTree(dir, options)).keys()) {
    const info = await (options.links ? lstat : stat)(path.join(dir, rel));
    out.set(rel, { mode: info.mode & 0o777, mtime: Math.floor(info.mtimeMs / 1000) });
  }
  return out;
}

/** What the XDG trash below home holds: original path (from .trashinfo) -> trashed path. */
export async function readTrash(home: string): Promise<Map<string, string>> {
  const info = path.join(home, '.local', 'share', 'Trash', 'info');
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(info);
  } catch {
    return out;
  }
  for (const name of names) {
    const text = await readFile(path.join(info, name), 'utf8');
    const original = /^Path=(.*)$/m.exec(text)?.[1];
    if (original) out.set(decodeURI(original), path.join(home, '.local', 'share', 'Trash', 'files', name.replace(/\.trashinfo$/, '')));
  }
  return out;
}
