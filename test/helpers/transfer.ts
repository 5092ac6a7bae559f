import type { PoofConfig } from '../../src/config/schema.js';
import type { TransferSettings } from '../../src/rclone/args.js';
import { parseRcloneConf } from '../../src/rclone/ini.js';
import { resolveRemote, transferSettings } from '../../src/rclone/remote.js';

/**
 * The transfer settings a run resolves for storage of `type` (plain, or with `crypt` a crypt
 * remote over it) and poof.conf's `config` settings: what the argv builders are given.
 */
export function settingsFor(type: string, options: { crypt?: boolean; config?: Partial<PoofConfig> } = {}): TransferSettings {
  const [plain, crypt] = parseRcloneConf(`[plain]\ntype = ${type}\n[sec]\ntype = crypt\nremote = plain:b\n`).sections;
  const config: PoofConfig = { bucket: 'b', paths: {}, remote: options.crypt ? 'sec' : 'plain', ...options.config };
  const remote = options.crypt ? resolveRemote(config, crypt!, plain, '/c/rclone-poof.conf') : resolveRemote(config, plain!, undefined, '/c/rclone-poof.conf');
  return transferSettings(config, remote);
}
