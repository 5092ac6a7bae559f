import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { root } from '../helpers/sandbox.js';

interface Cruised {
  summary: { violations: Array<{ rule: { name: string }; from: string; to: string }> };
  modules: Array<{ source: string; dependencies: Array<{ resolved: string }> }>;
}

/** The folder of a source file under src/, or undefined for the top-level files (cli.ts, errors.ts, ...). */
const folderOf = (file: string) => /^src\/([^/]+)\//.exec(file)?.[1];

/** Pure: folder pairs that import each other, with one import each way as the example. */
function folderCycles(modules: Cruised['modules']): string[] {
  const edges = new Map<string, string>();
  for (const m of modules) {
    for (const dep of m.dependencies) {
      const a = folderOf(m.source);
      const b = folderOf(dep.resolved);
      if (a && b && a !== b && !edges.has(`${a}>${b}`)) edges.set(`${a}>${b}`, `${m.source} -> ${dep.resolved}`);
    }
  }
  const cycles: string[] = [];
  for (const [key, example] of edges) {
    const [a, b] = key.split('>') as [string, string];
    if (a < b && edges.has(`${b}>${a}`)) cycles.push(`${a} <-> ${b}: ${example}; ${edges.get(`${b}>${a}`)}`);
  }
  return cycles;
}

describe('the layout (.dependency-cruiser.cjs)', () => {
  it('has no import cycles between modules or folders; only src/process spawns; only src/rclone runs rclone; only ui/ renders; the engine is data only', async () => {
    const bin = path.join(root, 'node_modules', '.bin', 'depcruise');
    const { stdout } = await promisify(execFile)(bin, ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const cruised = JSON.parse(stdout) as Cruised;
    assert.ok(cruised.modules.length > 50, 'the cruise saw the source tree');
    assert.deepEqual(cruised.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), []);
    assert.deepEqual(folderCycles(cruised.modules), []);
  });
});
