import { isMountPoint } from './mount.js';
import { checkTarget, type ProtectedPlaces } from './targets.js';

/** Refuse what must never be wiped: /, home, poof's own dirs; and mount points unless --force. */
export async function refuseWipeTargets(plans: Array<{ localDir: string; refusal?: string }>, places: ProtectedPlaces, force: boolean): Promise<void> {
  for (const plan of plans) {
    if (plan.refusal) continue;
    const reason = await checkTarget(plan.localDir, places);
    if (reason) plan.refusal = `${reason}; upload never wipes it`;
    else if (!force && (await isMountPoint(plan.localDir))) {
      plan.refusal = `${plan.localDir} is a mount point (another disk); pass --force to upload and wipe it anyway`;
    }
  }
}
