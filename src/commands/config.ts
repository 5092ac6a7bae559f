import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Context } from '../context.js';
import { buildDefaultConfig } from '../config/defaults.js';
import { applyConfigChanges, hasChanges } from '../config/edit.js';
import type { PoofConfig } from '../config/schema.js';
import { checkConfigText, readTextIfExists, writeConfig } from '../config/store.js';
import { formatIssue, validateConfig } from '../config/validate.js';
import { DeclinedError, ExitCode, UsageError } from '../errors.js';
import { confirmOrDecline } from '../ui/prompts.js';
import { keepInvalidCopy } from '../fs/atomic-write.js';
import { isDirectory, probePath } from '../fs/probe.js';
import { isInside } from '../fs/paths.js';
import { refuseMappedPaths } from '../safety/mapped-paths.js';
import { isEncryptedConf } from '../rclone/conf-crypt.js';
import { findSection, parseRcloneConf } from '../rclone/ini.js';
import type { configSpec, OptionsOf } from './specs.js';

type ConfigOptions = OptionsOf<typeof configSpec>;

/**
 * Create or change poof.conf. On a terminal without flags: a wizard. Otherwise flags, or the
 * defaults. An existing file changes only after a yes on the terminal or with --force.
 */
export async function configCommand(ctx: Context, options: ConfigOptions): Promise<number> {
  const { paths } = ctx;
  const existingText = await readTextIfExists(paths.poofConf);
  const existing = existingText === undefined ? undefined : checkConfigText(existingText);
  const where = { cwd: ctx.cwd, home: ctx.home };
  const flagsGiven = hasChanges(options);

  if (existingText !== undefined && existing?.config === undefined && !options.force) {
    const first = existing?.errors[0];
    throw new UsageError(
      `${paths.poofConf} exists but is invalid${first ? `: ${formatIssue(first, 'poof.conf')}` : ''}`,
      'fix it by hand, or replace it with --force (the old file is kept as poof.conf.invalid-<time>)',
    );
  }

  // A new file made with --map holds exactly the mappings given; otherwise ~/Documents is the default.
  const base: PoofConfig = existing?.config ?? (await defaultConfig(ctx, !options.map?.length));
  let next: PoofConfig;
  if (ctx.interactive && !flagsGiven) {
    const { runConfigWizard } = await import('../ui/config-wizard.js');
    const result = await runConfigWizard(base, { where, rcloneConf: paths.rcloneConf, unlock: ctx, existing: existingText !== undefined });
    if (!result) throw new DeclinedError('config cancelled; nothing was written');
    next = result;
  } else {
    if (existingText !== undefined && existing?.config && !flagsGiven) {
      // Like the original `poof config`: an existing file is shown, not rewritten.
      ctx.out(existingText.trimEnd());
      ctx.err(`poof: ${paths.poofConf} exists; unchanged (change it with flags such as --map, plus --force)`);
      return ExitCode.ok;
    }
    const applied = applyConfigChanges(base, options, where);
    if (applied.errors.length > 0) throw new UsageError(applied.errors[0] ?? 'invalid flags', undefined, applied.errors.slice(1));
    const refused = await refuseMappedPaths(applied.mapped);
    if (refused.length > 0) throw new UsageError(refused[0] ?? 'invalid --map', undefined, refused.slice(1));
    next = applied.config;
    if (existingText !== undefined && existing?.config && !options.force) {
      if (!ctx.interactive) {
        throw new UsageError(`${paths.poofConf} already exists`, 'add --force to change it');
      }
      await confirmOrDecline(`Change ${paths.poofConf}?`, 'config cancelled; nothing was written');
    }
  }

  const result = validateConfig(next);
  if (!result.config) {
    const lines = result.errors.map((issue) => formatIssue(issue));
    throw new UsageError(`the new poof.conf would be invalid: ${lines[0]}`, undefined, lines.slice(1));
  }
  if (existingText !== undefined && existing?.config === undefined) {
    const keep = await keepInvalidCopy(paths.poofConf);
    ctx.err(`poof: the invalid poof.conf was kept as ${keep}`);
  }
  const text = await writeConfig(paths, result.config);
  ctx.out(text.trimEnd());
  ctx.err(`poof: wrote ${paths.poofConf}`);
  for (const warning of result.warnings) ctx.err(`poof: warning: ${formatIssue(warning)}`);
  for (const dir of Object.keys(result.config.paths)) {
    const kind = await probePath(dir);
    if (kind === 'missing') ctx.err(`poof: warning: ${dir} does not exist (or is not mounted); backups of it will fail until it does`);
    else if (kind !== 'directory') ctx.err(`poof: warning: ${dir} is not a directory; backups of it will fail`);
  }
  for (const dir of Object.keys(result.config.paths)) {
    // Mapping the home folder takes poof's own folders along: credentials, and a log that changes every run.
    for (const [what, own] of [['config', paths.configDir], ['state', paths.stateDir], ['two-way keep', paths.syncKeptDir]] as const) {
      if (!isInside(own, dir)) continue;
      const rel = path.relative(dir, own).split(path.sep).join('/');
      if ((result.config.excludes ?? []).some((pattern) => pattern === `/${rel}/**` || pattern === `${rel}/**`)) continue;
      ctx.err(`poof: warning: ${dir} holds poof's own ${what} folder (${own}), which every backup would copy along${what === 'config' ? ' (rclone-poof.conf holds the storage\'s credentials)' : ' and find changed'}; leave it out with \`poof config --exclude '/${rel}/**' --force\``);
    }
  }
  if (Object.keys(result.config.paths).length === 0) {
    ctx.err('poof: no directories are mapped yet; add one with `poof config --map DIR=NAME --force`');
  }
  const rcloneText = await readTextIfExists(paths.rcloneConf);
  if (rcloneText === undefined) {
    ctx.err('poof: next: `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav), then `poof verify`');
  } else if (!isEncryptedConf(rcloneText)) {
    // A remote named before its section is written is fine; the user should know runs wait for it.
    const parsed = parseRcloneConf(rcloneText);
    if (!findSection(parsed, result.config.remote)) {
      const names = parsed.sections.map((section) => section.name);
      ctx.err(`poof: warning: ${paths.rcloneConf} has no [${result.config.remote}] section, so runs stop with exit 3 until \`poof cconfig --provider P\` writes it${names.length > 0 ? ` (it has: ${names.join(', ')})` : ''}`);
    }
  }
  return ExitCode.ok;
}

async function defaultConfig(ctx: Context, withDocuments: boolean): Promise<PoofConfig> {
  const documents = path.join(ctx.home, 'Documents');
  const documentsDir = withDocuments && (await isDirectory(documents)) ? documents : undefined;
  return buildDefaultConfig({ user: ctx.user, hex12: randomBytes(6).toString('hex'), poofConf: ctx.paths.poofConf, documentsDir });
}
