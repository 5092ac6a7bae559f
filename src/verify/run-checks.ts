import type { Context } from '../context.js';
import { isCrypt } from '../rclone/remote-path.js';
import { resolveRemote } from '../rclone/remote.js';
import { refuseOverlap } from '../safety/sources.js';
import { normalizeDir } from '../fs/paths.js';
import type { Check } from './check.js';
import { checkRclone } from './checks/rclone.js';
import { checkPoofConf } from './checks/poof-conf.js';
import { checkRcloneConf } from './checks/rclone-conf.js';
import { checkMappedDirs } from './checks/mapped-dirs.js';
import { checkLastBackups } from './checks/last-backup.js';
import { checkRemote } from './checks/remote.js';
import { checkEncryption } from './checks/encryption.js';
import { checkEnvironment } from './checks/environment.js';
import { fidelityCheck } from './checks/fidelity.js';
import { checkHistory } from './checks/history.js';
import { checkProtection } from './checks/protection.js';
import { capabilitiesOf, unmetNeed } from '../rclone/capabilities.js';
import { readFeatures } from '../rclone/features.js';
import { checkCryptKeys } from './checks/crypt-keys.js';
import { checkCryptNameLengths } from './checks/crypt-names.js';

export interface VerifyOptions {
  offline?: boolean;
}

/** Every check `poof verify` makes, in order; later checks are skipped when what they need failed. */
export async function runChecks(ctx: Context, options: VerifyOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const rclone = await checkRclone(ctx, checks);
  const config = await checkPoofConf(ctx, checks);
  if (config && rclone) {
    const need = unmetNeed(config, rclone.version);
    if (need) checks.push({ id: 'rclone-needs', title: 'rclone version', status: 'fail', detail: need, hint: 'install a newer rclone (https://rclone.org/install/), or remove the setting from poof.conf' });
  }
  const sections = await checkRcloneConf(ctx, config, checks);
  const section = sections?.section;
  if (config) await checkMappedDirs(config, checks);
  if (config) checks.push(await checkLastBackups(ctx, config));
  await checkRemote(ctx, { rclone, config, section, offline: Boolean(options.offline) }, checks);
  checkEncryption(config, section, checks);
  if (config && section && rclone && isCrypt(section) && !options.offline && checks.find((c) => c.id === 'remote')?.status === 'ok') {
    checks.push(await checkCryptKeys(ctx, rclone, config, section));
  }
  if (config && section && isCrypt(section)) checks.push(...(await checkCryptNameLengths(config)));
  if (config && sections) {
    // How changes are found depends on what the storage reports: ask when it answered.
    const remoteOk = rclone && !options.offline && checks.find((c) => c.id === 'remote')?.status === 'ok';
    const remote = resolveRemote(config, sections.section, sections.baseSection, ctx.paths.rcloneConf, rclone ? capabilitiesOf(rclone.version) : undefined);
    const detection = remoteOk ? await readFeatures(rclone, remote.configFile, remote.root, { cacheFile: ctx.paths.featuresCache, refresh: true }) : undefined;
    checks.push(fidelityCheck(config, remote, detection));
    // A local-directory "cloud" inside a mapped directory (or around it): every backup refuses it.
    for (const [dir, name] of Object.entries(config.paths)) {
      const overlap = refuseOverlap(normalizeDir(dir), remote, config, name);
      if (overlap) checks.push({ id: `overlap:${name}`, title: `mapped dir ${name}`, status: 'fail', detail: overlap.replace(/; keep .*$/, ''), hint: 'poof cconfig --provider local --root DIR --force' });
    }
    if (remoteOk && rclone) checks.push(await checkHistory(ctx, rclone, config, remote));
    if (remoteOk && rclone) checks.push(await checkProtection(rclone, config, remote));
    else if (config.mode !== 'append-only') checks.push(await checkProtection(undefined, config, remote));
  }
  checkEnvironment(ctx, checks);
  return checks;
}
