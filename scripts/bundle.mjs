// Bundle the compiled CLI (dist/src/cli.js) into dist/bin/: one file for the spine that every
// command loads (argument parsing, help, version), and a chunk per lazily imported part, so
// `poof --help` reads and compiles one file instead of resolving a hundred modules.
import { build } from 'esbuild';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bin');
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { poof: path.join(root, 'dist', 'src', 'cli.js') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Chunks sit beside the entry: assets.ts finds the package two levels above its own file.
  chunkNames: '[name]-[hash]',
  // trash finds its helper programs next to its own files, and @parcel/watcher its native
  // module for the platform; the rest is bundled.
  external: ['trash', '@parcel/watcher'],
  // CommonJS packages (commander) require Node's modules.
  banner: { js: "import { createRequire as __poofRequire } from 'node:module'; const require = __poofRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
  metafile: true,
});
// Which modules went into which file: the tests check what `poof --help` loads.
await writeFile(path.join(root, 'dist', 'bundle-meta.json'), JSON.stringify(result.metafile));
