import { LINK_SUFFIX } from '../rclone/args.js';

/**
 * Pure: why the remote's names must not be restored, or undefined. Storage such as S3 accepts
 * any object name: a name with a ".." part would be written outside the mapping by rclone
 * before 1.75 (CVE-2026-71313); in links mode, a link "x" (x.rclonelink) beside files under
 * "x/" could have them written through the link, wherever it points, before 1.74.4
 * (CVE-2026-54572). A backup never makes either, so such a remote copy was altered: refused on
 * every rclone version.
 */
export function refuseRemoteNames(objects: Iterable<string>, linksMode: boolean): string | undefined {
  const links = new Set<string>();
  const dirs = new Set<string>();
  for (const object of objects) {
    const parts = object.split('/');
    if (object.startsWith('/') || parts.some((p) => p === '..' || p === '.' || p === '') || object.includes('\0')) {
      return `the remote copy holds a file named ${JSON.stringify(object)}, which would be written outside the directory; no backup makes such a name, so the remote copy was altered: nothing was restored`;
    }
    if (linksMode && object.endsWith(LINK_SUFFIX)) links.add(object.slice(0, -LINK_SUFFIX.length));
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const both = [...links].find((link) => dirs.has(link));
  return both === undefined
    ? undefined
    : `the remote copy holds both a link ${JSON.stringify(both)} and files inside a directory of that name, which would be written through the link; no backup makes both, so the remote copy was altered: nothing was restored`;
}
