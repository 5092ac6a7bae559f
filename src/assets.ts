import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Compiled to dist/src/assets.js and bundled into dist/bin/: the package root is two levels up.
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const templatesDir = path.join(packageRoot, 'templates');

export function readTemplate(relativePath: string): string {
  return readFileSync(path.join(templatesDir, relativePath), 'utf8');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command users run (package.json's bin): what a schedule starts. */
export function cliEntry(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { bin: { poof: string } };
  return path.join(packageRoot, pkg.bin.poof);
}
