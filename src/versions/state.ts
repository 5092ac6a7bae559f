import type { FileState, RunManifest } from './manifest.js';
import { runOfFolder } from './run-id.js';

/**
 * Where one file's content after run R is stored: in the folder of a later run (which replaced
 * or deleted that version), or in the mirror (no run since R touched it).
 */
export interface StoredFile extends FileState {
  path: string;
  /** The run whose folder of kept versions holds it; undefined: the mirror. */
  from?: string;
}

/** What each run's folder of kept versions holds, by run id: path -> size. */
export type KeptVersions = Map<string, Map<string, number>>;

/** By file: the folders of kept versions that hold one, in run order. */
export type FolderIndex = Map<string, string[]>;

/** Pure: which folders hold each file, so a lookup costs one map read, not one per folder. */
export function indexFolders(kept: KeptVersions): FolderIndex {
  const index: FolderIndex = new Map();
  for (const id of [...kept.keys()].sort()) {
    for (const file of kept.get(id)!.keys()) {
      const folders = index.get(file);
      if (folders) folders.push(id);
      else index.set(file, [id]);
    }
  }
  return index;
}

/** Pure: the first folder of a run after `runId` that holds `file` (a run's later passes are part of the run). */
export function firstFolderAfter(index: FolderIndex, file: string, runId: string): string | undefined {
  return index.get(file)?.find((id) => runOfFolder(id) > runId);
}

/**
 * Pure: every file of one mapping after run `runId`, and where its content is now. Every change
 * of a file goes through rclone's --backup-dir: the version a run replaces or deletes moves into
 * that run's folder. So the version file F had after run R is in the folder of the first run
 * after R whose folder holds F (the first run that touched it, since it existed after R), or,
 * when no later folder holds F, still in the mirror. Folders of incomplete runs count too: they
 * replaced files like any run. Only files the complete record of R lists are looked up.
 */
export function stateAfter(record: RunManifest, kept: KeptVersions, index: FolderIndex = indexFolders(kept)): StoredFile[] {
  if (!record.files) throw new Error(`run ${record.runId} did not finish: poof does not know every file it left`);
  const out: StoredFile[] = [];
  for (const [file, state] of Object.entries(record.files)) {
    const from = firstFolderAfter(index, file, record.runId);
    out.push({ path: file, ...state, ...(from ? { from } : {}) });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** One kept version of a file: what it was before run `replacedBy` (or is now, in the mirror). */
export interface FileVersion {
  /** The run that left this version (its record lists it), when known. */
  since?: string;
  /** The run that replaced or deleted it; undefined for the version in the mirror. */
  replacedBy?: string;
  size: number;
  mtime?: number;
}

/**
 * Pure: every stored version of one file, newest first: the mirror's (when the file is there)
 * and one per run folder that holds it. A version's time comes from the newest complete record
 * before the run that replaced it (the state that run found), when that record lists the file
 * and its version of it is the one in that folder. Not otherwise: a version a later pass of one
 * run replaced, or one left by a prune that stopped before removing it (its run's record gone),
 * is another state of the file than that record's.
 */
export function versionsOf(file: string, records: RunManifest[], kept: KeptVersions, mirror?: FileState): FileVersion[] {
  const complete = records.filter((r) => r.files).sort((a, b) => (a.runId < b.runId ? -1 : 1));
  const lastBefore = (id: string | undefined) => complete.filter((r) => id === undefined || r.runId < runOfFolder(id)).at(-1);
  const index = indexFolders(kept);
  const versions: FileVersion[] = [];
  const known = (id: string | undefined, size: number): FileVersion => {
    const record = lastBefore(id);
    const state = record?.files?.[file];
    // The mirror's entry is the newest record's own state (the caller's): only folders are checked.
    const itsVersion = record && state && state.size === size && (id === undefined || firstFolderAfter(index, file, record.runId) === id);
    return { ...(itsVersion ? { since: record.runId, mtime: state.mtime } : {}), ...(id ? { replacedBy: runOfFolder(id) } : {}), size };
  };
  if (mirror) versions.push({ ...known(undefined, mirror.size), mtime: mirror.mtime });
  for (const id of [...kept.keys()].sort().reverse()) {
    const size = kept.get(id)!.get(file);
    if (size !== undefined) versions.push(known(id, size));
  }
  return versions;
}
