import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import { lastErrorLine } from '../../rclone/log-parse.js';
import type { RcloneSection } from '../../rclone/ini.js';
import { CANARY, proveCryptKey } from '../../crypt/key-proof.js';
import type { Rclone } from '../../rclone/runner.js';
import type { Check } from '../check.js';
import { REMOTE_TIMEOUT_MS } from './remote.js';
import { buildCatArgs, buildListArgs } from '../../rclone/args.js';
import { VAULT_DIR } from '../../vault/layout.js';

/**
 * With crypt on, prove the keys: names already stored must decrypt (rclone 1.60 lists a crypt
 * remote opened with a wrong password as empty, exit 0); then a canary written through the crypt
 * remote must read back, and the storage underneath must not show its name in plain text.
 */
export async function checkCryptKeys(ctx: Context, rclone: Rclone, config: PoofConfig, section: RcloneSection): Promise<Check> {
  const title = 'encryption keys';
  const id = 'crypt-keys';
  const wraps = section.values.remote ?? '';
  const configFile = ctx.paths.rcloneConf;
  try {
    const proof = await proveCryptKey(rclone, configFile, section, Object.values(config.paths));
    if (!proof.ok) return { id, title, status: 'fail', detail: proof.detail, hint: 'restore the right keys with `poof key import FILE`' };
    // Append-only: nothing is ever overwritten, and a write-only server takes files only in the
    // vault's folders: the protection check writes its canary through crypt there and reads it back.
    if (config.mode === 'append-only') {
      const stored = await rclone.run(buildListArgs(configFile, wraps, 'quick'), { timeoutMs: REMOTE_TIMEOUT_MS });
      if (stored.exitCode !== 0 && stored.exitCode !== 3) return { id, title, status: 'fail', detail: `could not list ${wraps}: ${lastErrorLine(stored.stderr)}` };
      if (stored.stdout.split('\n').includes(`${VAULT_DIR}/`)) return { id, title, status: 'fail', detail: `${wraps} shows ${VAULT_DIR} in plain text: names are not encrypted` };
      return { id, title, status: 'ok', detail: `${proof.detail}; ${wraps} shows no plain name` };
    }
    const marker = `poof canary ${new Date().toISOString()}`;
    const written = await rclone.run(buildCatArgs('rcat', configFile, `${section.name}:${CANARY}`, 'quick'), { input: marker, timeoutMs: REMOTE_TIMEOUT_MS });
    if (written.exitCode !== 0) return { id, title, status: 'fail', detail: `could not write a canary through [${section.name}]: ${lastErrorLine(written.stderr)}` };
    const read = await rclone.run(buildCatArgs('cat', configFile, `${section.name}:${CANARY}`, 'quick'), { timeoutMs: REMOTE_TIMEOUT_MS });
    if (read.exitCode !== 0 || read.stdout !== marker) return { id, title, status: 'fail', detail: 'the canary written through the crypt remote did not read back' };
    const stored = await rclone.run(buildListArgs(configFile, wraps, 'quick'), { timeoutMs: REMOTE_TIMEOUT_MS });
    if (stored.exitCode !== 0) return { id, title, status: 'fail', detail: `could not list ${wraps}: ${lastErrorLine(stored.stderr)}` };
    if (stored.stdout.split('\n').includes(CANARY)) return { id, title, status: 'fail', detail: `${wraps} shows the canary's name in plain text: names are not encrypted` };
    return { id, title, status: 'ok', detail: `${proof.detail}; a canary written through [${section.name}] reads back, and ${wraps} shows no plain name` };
  } catch (error) {
    return { id, title, status: 'fail', detail: (error as Error).message };
  }
}
