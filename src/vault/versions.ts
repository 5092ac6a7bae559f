import type { RunManifest } from '../versions/manifest.js';
import type { FileVersion, StoredFile } from '../versions/state.js';
import type { DrillLayout } from '../versions/drill.js';
import type { ResolvedRemote } from '../rclone/remote.js';
import { dataRoot, objectPath } from './layout.js';
import { objectKeyOf } from './records.js';

/**
 * Pure: every stored version of one file in an append-only vault, newest first. Each complete
 * record holds the whole tree, so a version is a run of records in which the file had one state
 * (content, time and mode): it appeared with the first of them (`since`) and was replaced or
 * deleted by the next record (`replacedBy`); the newest state of a file the newest record still
 * has is the current one.
 */
export function vaultVersionsOf(file: string, records: RunManifest[]): FileVersion[] {
  const complete = records.filter((r) => r.files).sort((a, b) => (a.runId < b.runId ? -1 : 1));
  const versions: FileVersion[] = [];
  let open: FileVersion | undefined;
  let openKey = '';
  for (const record of complete) {
    const state = record.files![file];
    const key = state ? `${objectKeyOf(state) ?? ''}\u0000${state.mtime}\u0000${state.mode ?? ''}` : '';
    if (open && key !== openKey) {
      open.replacedBy = record.runId;
      open = undefined;
    }
    if (state && !open) {
      open = { since: record.runId, size: state.size, mtime: state.mtime };
      openKey = key;
      versions.push(open);
    }
  }
  return versions.reverse();
}

/** Pure: every file of an append-only run, with what names its object: the record holds the whole tree. */
export function vaultStateOf(record: RunManifest): StoredFile[] {
  if (!record.files) throw new Error(`run ${record.runId} did not finish: poof does not know every file it left`);
  return Object.entries(record.files).map(([file, state]) => ({ path: file, ...state })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Where a drill reads an append-only run back from: each file's object, once whatever number of paths share it. */
export function vaultLayout(record: RunManifest, remote: ResolvedRemote): DrillLayout {
  return {
    all: vaultStateOf(record),
    sourceOf: () => dataRoot(remote.root),
    readAs: (file) => objectPath(objectKeyOf(file)!),
    expectedAt: (file) => `as object ${objectPath(objectKeyOf(file)!)}`,
  };
}
