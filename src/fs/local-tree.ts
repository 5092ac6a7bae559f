import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import { dict } from '../dict.js';

/** One local file: size, modification time (RFC 3339, ns), mode (octal, as rclone prints it) when asked for. */
export type LocalEntry = [size: number, modTime: string, mode?: string];

export interface WalkOptions {
  /** Follow symbolic links (rclone --copy-links), or leave them out (--skip-links). */
  followLinks: boolean;
  /** Top-level directories to leave out (restore staging directories). */
  skipTop?: RegExp;
  cancelSignal?: AbortSignal | undefined;
  /** Each file's mode too (default): left out where the storage keeps none. */
  modes?: boolean;
  /** Each file's stat as the walk took it (after following a link), by path. */
  stats?: Map<string, BigIntStats>;
  /**
   * A directory that cannot be read (but exists) ends the walk with undefined, so the caller asks
   * rclone, which fails on it loudly, instead of a listing without that directory's files.
   */
  strict?: boolean;
}

/**
 * Characters rclone's local name encoding changes (the fullwidth slash and dot it uses for "/"
 * and ".", its quote character) and the replacement character Node gives for bytes that are not
 * UTF-8: a tree holding one is listed by rclone itself.
 */
export const ENCODED_BY_RCLONE = /[\uFF0F\uFF0E\u201B\uFFFD]/;

/** Stats between two yields to the event loop: a Ctrl-C is seen within a few milliseconds. */
const BATCH = 2_000;

/**
 * Every regular file below `root` with size, time and mode, as `rclone lsjson -R --files-only
 * -M` with --copy-links or --skip-links and no filters would list it: a quarter of rclone's time
 * (73 ms against 300 for 10,000 files here), since it is one process less and no JSON. Files
 * that cannot be read, special files and broken links are left out, as rclone leaves them out;
 * a directory reached again through a link is not walked twice. Undefined when a name is one
 * rclone would spell differently: the caller asks rclone then.
 */
export async function walkLocalTree(root: string, options: WalkOptions): Promise<Record<string, LocalEntry> | undefined> {
  const out: Record<string, LocalEntry> = dict();
  const modes = options.modes !== false;
  let sinceYield = 0;
  const walk = async (dir: string, rel: string, seen: Set<string>): Promise<boolean> => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (error) {
      return !options.strict || (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
    for (const name of names.sort()) {
      if (ENCODED_BY_RCLONE.test(name)) return false;
      if (rel === '' && options.skipTop?.test(name)) continue;
      if (++sinceYield >= BATCH) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
        if (options.cancelSignal?.aborted) return false;
      }
      // Names hold no "/": joining with one is all path.join would do here, at a tenth of the cost.
      const full = dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
      const relative = rel === '' ? name : `${rel}/${name}`;
      let info: BigIntStats | undefined;
      try {
        info = lstatSync(full, { bigint: true });
        if (info.isSymbolicLink()) info = options.followLinks ? statSync(full, { bigint: true }) : undefined;
      } catch {
        info = undefined;
      }
      if (!info) continue;
      if (info.isDirectory()) {
        const id = `${info.dev}:${info.ino}`;
        if (seen.has(id)) continue;
        if (!(await walk(full, relative, new Set([...seen, id])))) return false;
      } else if (info.isFile()) {
        options.stats?.set(relative, info);
        out[relative] = modes ? [Number(info.size), rfc3339Nanos(info.mtimeNs), (info.mode & 0o177777n).toString(8)] : [Number(info.size), rfc3339Nanos(info.mtimeNs)];
      }
    }
    return true;
  };
  let top: BigIntStats;
  try {
    top = statSync(root, { bigint: true });
  } catch {
    return undefined;
  }
  if (!top.isDirectory()) return undefined;
  return (await walk(root, '', new Set([`${top.dev}:${top.ino}`]))) ? out : undefined;
}

/** The last second formatted (files of one directory were often written in the same second). */
let lastSecond: bigint | undefined;
let lastPrefix = '';

/** Pure: nanoseconds since the epoch as RFC 3339 in UTC with nine decimals. */
export function rfc3339Nanos(ns: bigint): string {
  const seconds = ns >= 0n ? ns / 1_000_000_000n : -((-ns + 999_999_999n) / 1_000_000_000n);
  const fraction = ns - seconds * 1_000_000_000n;
  if (seconds !== lastSecond) {
    lastPrefix = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
    lastSecond = seconds;
  }
  return `${lastPrefix}.${fraction.toString().padStart(9, '0')}Z`;
}
