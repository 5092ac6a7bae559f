/**
 * Run ids name each backup run's folder of kept versions on the remote. They are UTC times to
 * the second, `20261202T151233Z`: fixed width, so they sort by time as plain strings, with no
 * ":" (refused by some storage), readable in a plain `rclone lsf` listing.
 */
export const RUN_ID = /^\d{8}T\d{6}Z$/;

/** Pure: the run id of a run that started at `date`, later than every id in `taken`. */
export function runIdFor(date: Date, taken: Iterable<string> = []): string {
  let time = Math.floor(date.getTime() / 1000) * 1000;
  const latest = [...taken].filter((id) => RUN_ID.test(id)).sort().at(-1);
  // Two runs in one second (or a clock set back) still get ids that sort after the last one.
  if (latest !== undefined && runIdFor(new Date(time)) <= latest) time = timeOfRunId(latest).getTime() + 1000;
  const iso = new Date(time).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** Pure: the UTC time a run id stands for. */
export function timeOfRunId(id: string): Date {
  if (!RUN_ID.test(id)) throw new Error(`not a run id: ${id}`);
  return new Date(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}Z`);
}

/**
 * A folder of kept versions: a run id, or a run id and a pass number (`20261202T151233Z-2`) for
 * a run's later rclone passes. As strings they sort after their run and before the next run.
 */
export const FOLDER_ID = /^\d{8}T\d{6}Z(-\d+)?$/;

/** Pure: the run a folder belongs to. */
export function runOfFolder(folder: string): string {
  return folder.replace(/-\d+$/, '');
}
