import path from 'node:path';
import { poofConfigSchema, type PoofConfig, type SymlinkMode } from './schema.js';
import { normalizeDir, resolveDir, type Where } from '../fs/paths.js';

/** One local directory and the name of its copy on the remote. */
export interface Mapping {
  dir: string;
  name: string;
}

/** A mapping read from `--map`, with what is needed to explain it. */
export interface MapArg extends Mapping {
  arg: string;
  /**
   * When the argument holds a "=", the directory the whole argument names. A user who forgot
   * that the last "=" starts the name meant this one, so the command can say so.
   */
  whole?: string;
}

export interface ConfigChanges {
  /** `--map DIR[=NAME]` as typed. */
  map?: string[];
  /** Mappings already split into directory and name (the wizard), so no "=" is ever parsed. */
  mappings?: Mapping[];
  unmap?: string[];
  remote?: string;
  bucket?: string;
  exclude?: string[];
  symlinks?: SymlinkMode;
}

const nameSchema = poofConfigSchema.properties.paths.additionalProperties;
const NAME_PATTERN = new RegExp(nameSchema.pattern);

export function hasChanges(changes: ConfigChanges): boolean {
  return Boolean(
    changes.map?.length ||
      changes.mappings?.length ||
      changes.unmap?.length ||
      changes.remote ||
      changes.bucket ||
      changes.exclude?.length ||
      changes.symlinks,
  );
}

/**
 * Pure: why a remote directory name is unusable, or undefined when it is fine. The specific
 * reasons come first so the user learns what to change; the schema's pattern is the last word so
 * this can never accept a name that poof.conf would reject.
 */
export function describeNameProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.includes('/')) return 'cannot contain "/"';
  if (name.includes('\\')) return 'cannot contain "\\"';
  if (name === '.' || name === '..') return 'cannot be "." or ".."';
  if (name === '.poof-history' || name === '.poof-vault' || name === '.poof-sync-kept') return `cannot be "${name}", where past versions are kept`;
  if (/[\u0000-\u001f]/.test(name)) return 'cannot contain control characters';
  // ajv counts code points, not UTF-16 units.
  if ([...name].length > nameSchema.maxLength) return `is longer than ${nameSchema.maxLength} characters`;
  if (!NAME_PATTERN.test(name)) return 'is not a valid remote name';
  return undefined;
}

/**
 * Pure: parse `--map DIR[=NAME]`. The last "=" separates DIR from NAME, because a directory path
 * may hold "=" (e.g. `year=2024`) while a remote name is one path segment; NAME defaults to the
 * directory's own name. A NAME that is not a valid remote name is refused, never read as part of
 * the path, so the result is always what the rule says.
 */
export function parseMapArg(arg: string, where: Where): MapArg | { error: string } {
  const shown = `--map ${JSON.stringify(arg)}`;
  if (arg === '') return { error: `${shown}: no directory given; use --map DIR or --map DIR=NAME` };
  const eq = arg.lastIndexOf('=');
  if (eq === 0) return { error: `${shown}: no directory before the "="; use --map DIR=NAME` };
  if (eq < 0) {
    const dir = resolveDir(arg, where);
    const name = path.basename(dir);
    const problem = describeNameProblem(name);
    if (problem !== undefined) {
      const what = name === '' ? `${dir} has no name of its own` : `its name ${JSON.stringify(name)} ${problem}`;
      return { error: `${shown}: ${what}; give the remote name: --map ${JSON.stringify(`${arg}=NAME`)}` };
    }
    return { dir, name, arg };
  }
  const dirPart = arg.slice(0, eq);
  const name = arg.slice(eq + 1);
  const problem = describeNameProblem(name);
  if (problem !== undefined) {
    // A "/" after the last "=" almost always means a directory with "=" in its path.
    const fix = name.includes('/')
      ? `a directory whose path holds "=" needs the name too: --map ${JSON.stringify(`${arg}=NAME`)}`
      : `the last "=" starts NAME, one name without "/": --map ${JSON.stringify(`${dirPart}=NAME`)}`;
    return { error: `${shown}: the name after the last "=" ${problem}; ${fix}` };
  }
  return { dir: resolveDir(dirPart, where), name, arg, whole: resolveDir(arg, where) };
}

/**
 * Pure: apply command-line or wizard changes to a config. Validation of the result happens after.
 * `mapped` lists the mappings read from `--map`, for the checks only the disk can answer.
 */
export function applyConfigChanges(
  base: PoofConfig,
  changes: ConfigChanges,
  where: Where,
): { config: PoofConfig; errors: string[]; mapped: MapArg[] } {
  const errors: string[] = [];
  const mapped: MapArg[] = [];
  const paths: Record<string, string> = { ...base.paths };
  for (const target of changes.unmap ?? []) {
    const asDir = resolveDir(target, where);
    const keys = Object.keys(paths).filter((dir) => paths[dir] === target || normalizeDir(dir) === asDir);
    if (keys.length === 0) errors.push(`--unmap "${target}": no mapping has that directory or remote name`);
    for (const key of keys) delete paths[key];
  }
  const additions: Mapping[] = [];
  for (const arg of changes.map ?? []) {
    const parsed = parseMapArg(arg, where);
    if ('error' in parsed) errors.push(parsed.error);
    else {
      mapped.push(parsed);
      additions.push(parsed);
    }
  }
  for (const mapping of changes.mappings ?? []) {
    const problem = describeNameProblem(mapping.name);
    if (problem !== undefined) errors.push(`the name ${JSON.stringify(mapping.name)} for ${mapping.dir} ${problem}`);
    else additions.push({ dir: resolveDir(mapping.dir, where), name: mapping.name });
  }
  for (const { dir, name } of additions) {
    // Re-mapping a directory replaces its old entry (which may be spelled with a trailing slash).
    for (const key of Object.keys(paths)) if (normalizeDir(key) === dir) delete paths[key];
    paths[dir] = name;
  }
  const config: PoofConfig = { ...base, paths };
  if (changes.remote) config.remote = changes.remote;
  if (changes.bucket) config.bucket = changes.bucket;
  if (changes.symlinks) config.symlinks = changes.symlinks;
  if (changes.exclude?.length) config.excludes = [...new Set([...(base.excludes ?? []), ...changes.exclude])];
  return { config, errors, mapped };
}
