import { accessSync, constants } from 'node:fs';
import { stat } from 'node:fs/promises';

export async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}

/** Can this user run the file? */
export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export type PathKind = 'directory' | 'file' | 'other' | 'missing';

/** What is at a path, following links; 'missing' when nothing can be seen there. */
export async function probePath(file: string): Promise<PathKind> {
  try {
    const info = await stat(file);
    return info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}
