import { gunzipSync, gzipSync } from 'node:zlib';
import { asDict } from '../dict.js';

/** One file as a run left it on the remote: size, modification time (ms), mode where kept. */
export interface FileState {
  size: number;
  mtime: number;
  mode?: number;
  /**
   * The content's MD5 (hex), where poof saw exactly what was sent (a file unchanged from the
   * listing before the transfer until it was hashed after it); kept from run to run while the
   * file is unchanged. A restore and `poof check` compare what they read back with it.
   */
  md5?: string;
  /** Append-only: the content's SHA-256 (hex), which names the object holding it. */
  sha256?: string;
  /** Append-only: the object's name when it is not the SHA-256 alone (`<sha256>.<run id>`). */
  object?: string;
}

/** Every file of one mapping after one run, by path relative to the mapping. */
export type TreeState = Record<string, FileState>;

/**
 * What one run did to one mapping, stored on the remote beside the folder of what it replaced
 * (`.poof-history/<run id>/<NAME>.run.json.gz`), so a restore needs nothing from the laptop.
 * A complete run lists every file the mirror held after it (`files`): with the folders of
 * replaced versions that is enough to rebuild the tree after any kept run. An incomplete run
 * (failed, interrupted) has no `files`: its folder still holds what it replaced.
 */
export interface RunManifest {
  format: 1;
  runId: string;
  mapping: string;
  status: 'complete' | 'incomplete';
  started: string;
  ended: string;
  /** poof's command: backup, upload, or a later one that writes through the engine. */
  command: string;
  counts: { added: number; changed: number; deleted: number; keptBytes: number };
  files?: TreeState;
  /**
   * Links kept as links ("symlinks": "links") are among `files`, each as `x.rclonelink`. Records
   * written before poof listed them have no links: a restore of such a run leaves local links be.
   */
  links?: true;
  /**
   * Set (never stored) when the record on the remote could not be read: cut short (the laptop
   * died while writing it) or altered. Such a run counts as one that did not finish: its folder's
   * versions are kept for the runs before it, and it is not a target of `--at`.
   */
  damaged?: string;
}

/** Pure: a record that could not be read, standing for its run as one that did not finish. */
export function damagedRecord(runId: string, mapping: string, why: string): RunManifest {
  return { format: 1, runId, mapping, status: 'incomplete', started: '', ended: '', command: '?', counts: { added: 0, changed: 0, deleted: 0, keptBytes: 0 }, damaged: why };
}

/**
 * Pure: the record as stored: gzip'd JSON (10,000 files take about 120 KB). The fastest level:
 * 3.5 ms instead of 10 for 10,000 files, for 13% more bytes.
 */
export function encodeManifest(record: RunManifest): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(record)), { level: 1 });
}

/** Pure: a stored record, checked enough that a damaged or foreign file is refused, not trusted. */
export function decodeManifest(data: Buffer): RunManifest {
  const parsed = JSON.parse(gunzipSync(data).toString('utf8')) as Partial<RunManifest>;
  if (parsed.format !== 1 || typeof parsed.runId !== 'string' || typeof parsed.mapping !== 'string' || (parsed.status !== 'complete' && parsed.status !== 'incomplete')) {
    throw new Error('not a poof run manifest (format 1)');
  }
  if (parsed.status === 'complete' && (typeof parsed.files !== 'object' || parsed.files === null)) throw new Error('a complete run manifest without its files');
  if (parsed.files) {
    asDict(parsed.files);
    for (const [file, state] of Object.entries(parsed.files)) {
      const problem = badRecordedPath(file) ?? badObjectName(state);
      if (problem) throw new Error(`it lists ${JSON.stringify(file)}, ${problem}`);
      // A file and a file below it: no tree has both.
      for (let cut = file.lastIndexOf('/'); cut > 0; cut = file.lastIndexOf('/', cut - 1)) {
        if (parsed.files[file.slice(0, cut)]) throw new Error(`it lists ${JSON.stringify(file)} below the file ${JSON.stringify(file.slice(0, cut))}`);
      }
    }
  }
  return parsed as RunManifest;
}

/**
 * Pure: why a path in a record is not one a backup can have recorded: a restore joins it to the
 * restored directory, so "..", an absolute path or an empty part would write outside it. A record
 * is written by whoever holds the backup's key: it is never trusted further than this.
 */
export function badRecordedPath(file: string): string | undefined {
  if (file === '' || file.startsWith('/') || file.includes('\u0000')) return 'which is not a relative path';
  if (file.split('/').some((part) => part === '' || part === '.' || part === '..')) return 'which leaves the mapped directory or has an empty part';
  return undefined;
}

/** Pure: why a recorded content hash or object name is not one poof writes (append-only). */
function badObjectName(state: FileState): string | undefined {
  if (state.sha256 === undefined && state.object === undefined) return undefined;
  if (typeof state.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(state.sha256)) return 'with a hash that is not a SHA-256';
  if (state.object !== undefined && (typeof state.object !== 'string' || !new RegExp(`^${state.sha256}\\.\\d{8}T\\d{6}Z$`).test(state.object))) return 'with an object that is not named by its hash';
  return undefined;
}

/** What changed between two states of one mapping. */
export interface TreeChanges {
  added: string[];
  changed: string[];
  deleted: string[];
}

/**
 * Pure: the paths added, changed (size, time or mode) and deleted from `before` to `after`;
 * with `only`, among those paths alone (the rest known to be the same in both).
 */
export function diffStates(before: TreeState, after: TreeState, only?: Iterable<string>): TreeChanges {
  const added: string[] = [];
  const changed: string[] = [];
  const deleted: string[] = [];
  for (const file of only ? new Set(only) : new Set([...Object.keys(after), ...Object.keys(before)])) {
    const now = after[file];
    const then = before[file];
    if (!now) {
      if (then) deleted.push(file);
    } else if (!then) added.push(file);
    else if (then.size !== now.size || then.mtime !== now.mtime || (then.mode !== undefined && now.mode !== undefined && then.mode !== now.mode)) changed.push(file);
  }
  return { added: added.sort(), changed: changed.sort(), deleted: deleted.sort() };
}
