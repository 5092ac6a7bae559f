import type { SymlinkMode } from '../config/schema.js';
import { baseFlags, hereSide, linkFlags, STAGING_EXCLUDE } from './args.js';

/**
 * How a local file is proven identical to its remote copy.
 * - hash: `rclone check`, comparing a hash both sides have (md5 on S3, any on local storage).
 * - cryptcheck: `rclone cryptcheck`: crypt stores no hashes of the plain file, but the hash of
 *   the encrypted object can be recomputed from the local file and compared.
 * - download: `rclone check --download`, byte for byte, where no hash is shared.
 */
export type ProofMethod = 'hash' | 'cryptcheck' | 'download';

export interface ProofArgsInput {
  method: ProofMethod;
  configFile: string;
  localDir: string;
  remotePath: string;
  symlinks?: SymlinkMode | undefined;
  /** The storage type under any wrapper, and crypt: where links kept as links are translated on this side only (linksHereOnly). */
  backendType?: string | undefined;
  crypt?: boolean | undefined;
  excludes?: string[] | undefined;
  checkers?: number | undefined;
  /** List the remote in one go (S3-like storage), as the copy did. */
  fastList?: boolean | undefined;
}

/** Pure: the argv of one proof; `--combined -` prints one line per file on stdout. */
export function buildProofArgs(input: ProofArgsInput): string[] {
  const command = input.method === 'cryptcheck' ? 'cryptcheck' : 'check';
  const args = [command, hereSide(input, input.localDir), input.remotePath, ...baseFlags(input.configFile), '--one-way', '--combined', '-'];
  // Stats on stderr let poof stop a proof whose server vanished, as it does for the copy.
  args.push('--use-json-log', '--stats', '1s', '--stats-log-level', 'NOTICE');
  if (input.method === 'download') args.push('--download');
  args.push('--contimeout', '30s', '--timeout', '2m');
  args.push(...linkFlags(input));
  if (input.checkers !== undefined) args.push('--checkers', String(input.checkers));
  if (input.fastList) args.push('--fast-list');
  for (const pattern of input.excludes ?? []) args.push('--exclude', pattern);
  args.push('--exclude', STAGING_EXCLUDE);
  return args;
}

export interface CombinedReport {
  /** Present on both sides and identical: the only files that may be wiped. */
  same: string[];
  /** Present on both sides but different. */
  differ: string[];
  /** Local files the remote does not have. */
  missing: string[];
  /** Files rclone could not read or hash. */
  failed: string[];
}

/**
 * Pure: rclone's `--combined` report. "=" identical, "*" different, "+" only in the source
 * (local), "-" only in the destination, "!" an error reading or hashing.
 */
export function parseCombined(stdout: string): CombinedReport {
  const report: CombinedReport = { same: [], differ: [], missing: [], failed: [] };
  for (const line of stdout.split('\n')) {
    if (line.length < 3 || line[1] !== ' ') continue;
    const file = line.slice(2);
    if (line[0] === '=') report.same.push(file);
    else if (line[0] === '*') report.differ.push(file);
    else if (line[0] === '+') report.missing.push(file);
    else if (line[0] === '!') report.failed.push(file);
  }
  return report;
}

/**
 * Pure: did a hash proof fall back to comparing sizes? rclone 1.60 `check` then still prints
 * "=" for every file and exits 0, logging "No common hash found" or "N hashes could not be
 * checked" (e.g. SFTP without a shell, WebDAV). Such a report proves nothing.
 */
export function hashesMissing(stderr: string): boolean {
  if (/No common hash found/i.test(stderr)) return true;
  const count = /(\d+) hashes could not be checked/.exec(stderr);
  return count !== null && Number(count[1]) > 0;
}
