export interface RcloneVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

/** The oldest rclone poof drives (Debian 12's); newer features are used only when present. */
export const MIN_RCLONE: RcloneVersion = { major: 1, minor: 60, patch: 0, text: 'v1.60.0' };

/** Pure: parse the first line of `rclone version`, e.g. "rclone v1.60.1-DEV". */
export function parseRcloneVersion(output: string): RcloneVersion | undefined {
  const match = /rclone\s+v?(\d+)\.(\d+)(?:\.(\d+))?(\S*)/.exec(output);
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3] ?? 0),
    text: `v${match[1]}.${match[2]}.${match[3] ?? 0}${match[4] ?? ''}`,
  };
}

export function compareVersions(a: RcloneVersion, b: Pick<RcloneVersion, 'major' | 'minor' | 'patch'>): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export function atLeast(version: RcloneVersion, major: number, minor: number, patch = 0): boolean {
  return compareVersions(version, { major, minor, patch }) >= 0;
}

/** Pure: find an executable named `name` on a PATH string. */
export function findOnPath(
  name: string,
  pathVariable: string | undefined,
  isExecutable: (file: string) => boolean,
): string | undefined {
  for (const dir of (pathVariable ?? '').split(':')) {
    if (dir === '') continue;
    const candidate = `${dir.replace(/\/+$/, '')}/${name}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}
