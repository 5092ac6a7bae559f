import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * An executable that records each argv it is given, one line per call, then runs the real
 * rclone: poof is pointed at it with POOF_RCLONE so a test can read every rclone command line.
 */
export async function writeRcloneShim(dir: string): Promise<{ shim: string; argvLog: string }> {
  const shim = path.join(dir, 'rclone-shim.sh');
  const argvLog = path.join(dir, 'rclone-argv.log');
  await writeFile(shim, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec rclone "$@"\n`);
  await chmod(shim, 0o755);
  return { shim, argvLog };
}

/**
 * An rclone that runs a shell snippet just before the real rclone starts a given subcommand
 * (e.g. "check"): fault injection at an exact point of a poof run, with rclone itself untouched.
 */
export async function writeHookedRclone(dir: string, subcommand: string, snippet: string): Promise<string> {
  const shim = path.join(dir, `rclone-before-${subcommand}.sh`);
  await writeFile(shim, `#!/bin/sh\nif [ "$1" = '${subcommand}' ]; then\n${snippet}\nfi\nexec rclone "$@"\n`);
  await chmod(shim, 0o755);
  return shim;
}
