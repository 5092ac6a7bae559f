import path from 'node:path';
import type { Context } from '../../context.js';
import type { PoofConfig } from '../../config/schema.js';
import { checkConfigText, readTextIfExists } from '../../config/store.js';
import { formatIssue } from '../../config/validate.js';
import type { Check } from '../check.js';

export async function checkPoofConf(ctx: Context, checks: Check[]): Promise<PoofConfig | undefined> {
  const file = ctx.paths.poofConf;
  const text = await readTextIfExists(file);
  if (text === undefined) {
    const legacy = path.join(ctx.paths.legacyConfigDir, 'poof.conf');
    const legacyFound = legacy !== file && (await readTextIfExists(legacy)) !== undefined;
    checks.push({
      id: 'poof.conf',
      title: 'poof.conf',
      status: 'fail',
      detail: `not found at ${file}`,
      hint: legacyFound
        ? `an original poof config exists at ${legacy}: use \`poof --confdir "${ctx.paths.legacyConfigDir}" verify\` or copy it`
        : 'run `poof config`',
    });
    return undefined;
  }
  const { config, errors, warnings } = checkConfigText(text);
  if (!config) {
    errors.forEach((issue, index) =>
      checks.push({ id: index === 0 ? 'poof.conf' : `poof.conf.${index}`, title: 'poof.conf', status: 'fail', detail: formatIssue(issue, file) }),
    );
    return undefined;
  }
  const count = Object.keys(config.paths).length;
  checks.push(
    count === 0
      ? { id: 'poof.conf', title: 'poof.conf', status: 'fail', detail: `${file} maps no directories`, hint: 'poof config --map DIR=NAME --force' }
      : { id: 'poof.conf', title: 'poof.conf', status: 'ok', detail: `${file} is valid (${count} ${count === 1 ? 'mapping' : 'mappings'}, remote "${config.remote}")` },
  );
  warnings.forEach((issue, index) =>
    checks.push({ id: `poof.conf.warning.${index}`, title: 'poof.conf', status: 'warn', detail: formatIssue(issue, file) }),
  );
  return count === 0 ? undefined : config;
}
