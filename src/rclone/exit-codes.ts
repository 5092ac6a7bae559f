export interface RcloneExitInfo {
  code: number;
  meaning: string;
  advice: string;
}

/** Pure: what an rclone exit code means and what the user can do about it (rclone docs, 1.60+). */
export function describeRcloneExit(code: number): RcloneExitInfo {
  const table: Record<number, [string, string]> = {
    0: ['success', ''],
    1: ['an error rclone did not classify', 'read the error above and the log; `poof verify` checks the remote'],
    2: ['a syntax or usage error (older rclone also uses 2 for other errors)', 'read the error above; check poof.conf\'s rclone settings'],
    3: ['a directory was not found', 'check that the directory or bucket exists'],
    4: ['a file was not found', 'check that the file exists'],
    5: ['a temporary error that did not clear after retries (network, rate limit)', 'try again later'],
    6: ['a less serious error such as a permission problem', 'check file permissions and the remote\'s access rights'],
    7: ['a fatal error (account suspended, quota, or --max-delete tripped)', 'read the error above; nothing more will be tried'],
    8: ['the transfer limit (--max-transfer) was reached', 'raise or remove the limit'],
    9: ['nothing was transferred', ''],
  };
  const [meaning, advice] = table[code] ?? [`an unknown exit code ${code}`, 'read the error above and the log'];
  return { code, meaning, advice };
}
