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

/**
 * Pure: rclone found no such directory (exit 3 on 1.60 and 1.75 alike; some backends say so in
 * words with another code): an empty listing, not a failure.
 */
export function directoryNotFound(result: { exitCode: number; stderr: string }): boolean {
  return result.exitCode === 3 || (result.exitCode !== 0 && /directory not found/i.test(result.stderr));
}

/** rclone's own words for a command line it refused (cobra's usage errors, any version). */
const USAGE_TEXT = /invalid argument "[^"]*" for "--?[\w-]+"|unknown (shorthand )?flag|Command \w+ needs \d+ arguments?|accepts (at most |between )?\d+/;

/** rclone's words (1.60 and 1.75 alike) for a link it was told to follow that leads nowhere. */
const DANGLING_LINK = /Listing error: symlink: stat (.+?): (no such file or directory|too many levels of symbolic links)/;

/** A path as rclone's JSON log escaped it, back to its text. */
function jsonUnescape(text: string): string {
  try {
    return JSON.parse(`"${text}"`) as string;
  } catch {
    return text;
  }
}

/**
 * Pure: what a failed rclone run means, from its exit code and its words. rclone exits 2 for a
 * usage error only from 1.69 (1 before): the text decides, so both versions read the same.
 */
export function classifyRcloneFailure(code: number, stderr: string): RcloneExitInfo {
  const limit = /--max-delete(-size)? threshold reached/.exec(stderr);
  if (code !== 0 && limit) {
    // rclone deletes up to the limit, then stops (exit 7 on every version).
    const setting = limit[1] ? 'rclone.maxDeleteSize' : 'rclone.maxDelete';
    return {
      code,
      meaning: `the backup would delete more on the remote than poof.conf's ${setting} allows: rclone deleted up to that limit and stopped`,
      advice: `check that the local directory is complete (an unmounted disk or a moved folder looks like deleted files); if the deletions are meant, raise ${setting} for one run`,
    };
  }
  const dangling = code !== 0 ? DANGLING_LINK.exec(stderr) : null;
  if (dangling) {
    const link = jsonUnescape(dangling[1] ?? '');
    return {
      code,
      meaning: `${link} is a link to nothing (${dangling[2] === 'no such file or directory' ? 'its target is missing' : 'it leads back to itself'}), and "symlinks": "follow" copies what a link points to`,
      advice: 'remove the link or bring back its target; or leave links out (`poof config --symlinks skip --force`) or keep them as links (`--symlinks links`)',
    };
  }
  if (code !== 0 && USAGE_TEXT.test(stderr)) {
    const line = stderr.split('\n').find((l) => USAGE_TEXT.test(l))?.replace(/^Error:\s*/, '').trim() ?? '';
    return { code, meaning: `rclone refused its command line (${line.slice(0, 200)})`, advice: "check the rclone settings in poof.conf (\"rclone\": bwlimit, transfers, ...) with `poof verify`" };
  }
  return describeRcloneExit(code);
}
