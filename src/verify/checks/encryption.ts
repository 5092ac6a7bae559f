import type { PoofConfig } from '../../config/schema.js';
import type { RcloneSection } from '../../rclone/ini.js';
import { isCrypt } from '../../rclone/remote-path.js';
import type { Check } from '../check.js';

export function checkEncryption(config: PoofConfig | undefined, section: RcloneSection | undefined, checks: Check[]): void {
  if (!config || !section) {
    checks.push({ id: 'encryption', title: 'encryption', status: 'skip', detail: 'unknown until the remote section is valid' });
    return;
  }
  checks.push(
    isCrypt(section)
      ? { id: 'encryption', title: 'encryption', status: 'ok', detail: `on: [${section.name}] is a crypt remote over ${section.values.remote ?? '?'}` }
      : { id: 'encryption', title: 'encryption', status: 'ok', detail: `off: [${section.name}] stores names and contents as they are` },
  );
}
