import type { MapArg } from '../config/edit.js';
import { probePath, type PathKind } from '../fs/probe.js';

// A path holding a newline would break a refusal into two lines, so such a path is shown quoted.
const showPath = (file: string) => (/[\u0000-\u001f]/.test(file) ? JSON.stringify(file) : file);

/**
 * What only the disk can tell about `--map` arguments. A missing directory is allowed (with a
 * warning after writing): it may be a disk that is not mounted yet. Something that exists but is
 * not a directory can never be backed up, and a missing DIR beside an existing whole argument is
 * a "=" in a path read as the start of the name. `probe` looks at the disk (a test passes its own).
 */
export async function refuseMappedPaths(mapped: MapArg[], probe: (file: string) => Promise<PathKind> = probePath): Promise<string[]> {
  const refusals: string[] = [];
  for (const { arg, dir, whole } of mapped) {
    const shown = `--map ${JSON.stringify(arg)}`;
    const kind = await probe(dir);
    if (kind === 'file' || kind === 'other') {
      refusals.push(`${shown}: ${showPath(dir)} is ${kind === 'file' ? 'a file' : 'not a directory'}; --map takes a directory`);
    } else if (kind === 'missing' && whole !== undefined && (await probe(whole)) !== 'missing') {
      refusals.push(
        `${shown}: ${showPath(dir)} does not exist, but ${showPath(whole)} does; the last "=" starts the name, so give it one: --map ${JSON.stringify(`${arg}=NAME`)}`,
      );
    }
  }
  return refusals;
}
