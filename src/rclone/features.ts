import { statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildFeaturesArgs } from './args.js';
import type { Rclone } from './runner.js';

/** How the storage can show that a file changed. */
export interface ChangeDetection {
  /** It keeps modification times (rclone's precision is finite). */
  modTime: boolean;
  hashes: string[];
  /** rclone can only compare sizes: a same-size edit goes unseen without poof's record. */
  sizeOnly: boolean;
  /** How exactly it keeps modification times, in nanoseconds (rclone's Precision). */
  precisionNs?: number;
}

/** rclone's "modification times not supported" precision: 100 years, in nanoseconds. */
const NOT_SUPPORTED_NS = 100 * 365 * 24 * 3600 * 1e9 * 0.99;

/** Pure: read `rclone backend features` output. */
export function judgeFeatures(json: string): ChangeDetection | undefined {
  try {
    const data = JSON.parse(json) as { Precision?: unknown; Hashes?: unknown };
    const precision = typeof data.Precision === 'number' ? data.Precision : Number.POSITIVE_INFINITY;
    const modTime = precision < NOT_SUPPORTED_NS;
    const hashes = Array.isArray(data.Hashes) ? data.Hashes.filter((h): h is string => typeof h === 'string') : [];
    return { modTime, hashes, sizeOnly: !modTime && hashes.length === 0, ...(modTime ? { precisionNs: precision } : {}) };
  } catch {
    return undefined;
  }
}


export interface FeatureOptions {
  cancelSignal?: AbortSignal | undefined;
  /**
   * Remember the answer here, keyed by the rclone version, the remote and rclone-poof.conf's
   * size and time: asking costs an rclone start (~85 ms measured) on every run, and a storage's
   * abilities change only with its configuration. `poof verify` always asks (`refresh`), and
   * keeps its answer for the backup after it.
   */
  cacheFile?: string | undefined;
  /** Ask even when the cache holds an answer, and keep the new one (`poof verify`). */
  refresh?: boolean | undefined;
}

/** What rclone reports for the remote's change detection (`backend features`), or undefined when it cannot say. */
export async function readFeatures(rclone: Rclone, configFile: string, root: string, options: FeatureOptions = {}): Promise<ChangeDetection | undefined> {
  const key = options.cacheFile && !options.refresh ? cacheKey(rclone, configFile, root) : undefined;
  if (key && options.cacheFile) {
    const cached = await readFile(options.cacheFile, 'utf8').then((text) => JSON.parse(text) as { key?: string; detection?: ChangeDetection }, () => undefined).catch(() => undefined);
    if (cached?.key === key && cached.detection) return cached.detection;
  }
  const result = await rclone.run(buildFeaturesArgs(configFile, root), { timeoutMs: 60_000, ...(options.cancelSignal ? { cancelSignal: options.cancelSignal } : {}) });
  const detection = result.exitCode === 0 ? judgeFeatures(result.stdout) : undefined;
  // Keyed by the config as it is after the question: rclone writes what it learns on first
  // contact into it (an SFTP server's shell and hash commands), and the answer is of that config.
  const after = options.cacheFile ? cacheKey(rclone, configFile, root) : undefined;
  if (detection && after && options.cacheFile) {
    const file = options.cacheFile;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
      .then(() => writeFile(file, `${JSON.stringify({ key: after, detection })}\n`, { mode: 0o600 }))
      .catch(() => {
        // Only a cache: the next run asks rclone again.
      });
  }
  return detection;
}

function cacheKey(rclone: Rclone, configFile: string, root: string): string | undefined {
  try {
    const info = statSync(configFile);
    return ['2', rclone.bin, rclone.version.text, root, info.size, info.mtimeMs].join('\u0000');
  } catch {
    return undefined;
  }
}
