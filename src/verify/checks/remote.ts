import { buildListArgs } from '../../rclone/args.js';
import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import { HISTORY_DIR } from '../../rclone/history-args.js';
import { lastErrorLine } from '../../rclone/log-parse.js';
import type { RcloneSection } from '../../rclone/ini.js';
import { remoteRoot } from '../../rclone/remote-path.js';
import type { Rclone } from '../../rclone/runner.js';
import type { Check } from '../check.js';

export interface RemoteInputs {
  rclone: Rclone | undefined;
  config: PoofConfig | undefined;
  section: RcloneSection | undefined;
  offline: boolean;
}
export const REMOTE_TIMEOUT_MS = 60_000;
export async function checkRemote(ctx: Context, inputs: RemoteInputs, checks: Check[]): Promise<void> {
  const title = 'remote';
  if (inputs.offline) {
    checks.push({ id: title, title, status: 'warn', detail: 'not contacted (--offline)' });
    return;
  }
  const { rclone, config, section } = inputs;
  if (!rclone || !config || !section) {
    checks.push({ id: title, title, status: 'skip', detail: 'not contacted: rclone and both config files must pass first' });
    return;
  }
  const target = remoteRoot(config, section);
  // A cheap listing of one level, with short timeouts so a dead server fails in seconds, not minutes.
  const result = await rclone.run(buildListArgs(ctx.paths.rcloneConf, target, 'quick'), { timeoutMs: REMOTE_TIMEOUT_MS });
  if (result.exitCode === 0) {
    const entries = result.stdout.split('\n').filter((l) => l !== '');
    const history = entries.includes(`${HISTORY_DIR}/`);
    const count = entries.length - (history ? 1 : 0);
    checks.push({ id: title, title, status: 'ok', detail: `${target} is reachable (${count} entries${history ? `, and ${HISTORY_DIR}/ with past runs` : ''})` });
  } else if (result.exitCode === 3) {
    checks.push({ id: title, title, status: 'ok', detail: `reachable; ${target} does not exist yet (the first backup creates it)` });
  } else if (result.timedOut) {
    checks.push({ id: title, title, status: 'fail', detail: `${target} did not answer within ${REMOTE_TIMEOUT_MS / 1000} s`, hint: 'check the network and the server address' });
  } else {
    checks.push({ id: title, title, status: 'fail', detail: `${target} failed (rclone exit ${result.exitCode}): ${lastErrorLine(result.stderr)}`, hint: 'check the credentials and address with `poof cconfig --force`' });
  }
}
