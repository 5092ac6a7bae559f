import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import type { PoofConfig } from '../config/schema.js';
import { checkConfigText, fileMode, readTextIfExists } from '../config/store.js';
import { formatIssue } from '../config/validate.js';
import { PoofError } from '../errors.js';
import { rcloneEnvironment } from '../rclone/env.js';
import { lastErrorLine } from '../rclone/log-parse.js';
import { findPlaceholders, findSection, parseRcloneConf, type RcloneSection } from '../rclone/ini.js';
import { isCrypt, remoteRoot } from '../rclone/remote-path.js';
import { CANARY, proveCryptKey } from '../crypt/key-proof.js';
import { CRYPT_NAME_LIMIT } from '../crypt/layout.js';
import { keepsModes } from '../rclone/args.js';
import { storageType } from '../rclone/remote.js';
import { locateRclone, type Rclone } from '../rclone/runner.js';
import { readRunRecords } from '../run/history.js';
import { DEFAULT_STALE_AFTER_HOURS, describeStaleMapping, findStaleMappings } from '../run/stale.js';
import type { Check } from './check.js';

export interface VerifyOptions {
  offline?: boolean;
}

/** Every check `poof verify` makes, in order; later checks are skipped when what they need failed. */
export async function runChecks(ctx: Context, options: VerifyOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const rclone = await checkRclone(ctx, checks);
  const config = await checkPoofConf(ctx, checks);
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
  if (config && sections) checks.push(fidelityCheck(config, sections.section, sections.baseSection));
  checkEnvironment(ctx, checks);
  return checks;
}

async function checkRclone(ctx: Context, checks: Check[]): Promise<Rclone | undefined> {
  try {
    const rclone = await locateRclone({ env: ctx.env });
    checks.push({ id: 'rclone', title: 'rclone', status: 'ok', detail: `${rclone.version.text} at ${rclone.bin}` });
    return rclone;
  } catch (error) {
    if (!(error instanceof PoofError)) throw error;
    checks.push({ id: 'rclone', title: 'rclone', status: 'fail', detail: error.message, ...(error.hint ? { hint: error.hint } : {}) });
    return undefined;
  }
}

async function checkPoofConf(ctx: Context, checks: Check[]): Promise<PoofConfig | undefined> {
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

async function checkRcloneConf(
  ctx: Context,
  config: PoofConfig | undefined,
  checks: Check[],
): Promise<{ section: RcloneSection; baseSection: RcloneSection | undefined } | undefined> {
  const file = ctx.paths.rcloneConf;
  const title = 'rclone-poof.conf';
  const text = await readTextIfExists(file);
  if (text === undefined) {
    checks.push({ id: title, title, status: 'fail', detail: `not found at ${file}`, hint: 'run `poof cconfig --provider local` (or s3, r2, b2, sftp, webdav)' });
    return undefined;
  }
  const parsed = parseRcloneConf(text);
  if (parsed.errors.length > 0) {
    checks.push({ id: title, title, status: 'fail', detail: `${file} cannot be parsed: ${parsed.errors[0]}`, hint: 'fix it, or rewrite it with `poof cconfig --force`' });
    return undefined;
  }
  const mode = await fileMode(file);
  if (mode !== undefined && (mode & 0o077) !== 0) {
    checks.push({
      id: 'rclone-poof.conf.mode',
      title,
      status: 'fail',
      detail: `${file} holds credentials but other users can access it (mode ${mode.toString(8)})`,
      hint: `chmod 600 "${file}"`,
    });
  }
  if (!config) {
    checks.push({ id: title, title, status: 'skip', detail: 'parsed, but which remote to check needs a valid poof.conf' });
    return undefined;
  }
  const section = findSection(parsed, config.remote);
  if (!section) {
    const others = parsed.sections.map((s) => s.name);
    checks.push({
      id: title,
      title,
      status: 'fail',
      detail: `${file} has no [${config.remote}] section${others.length ? ` (it has ${others.map((n) => `[${n}]`).join(', ')})` : ''}`,
      hint: `run \`poof cconfig\`, or set "remote" in poof.conf to one of its sections`,
    });
    return undefined;
  }
  const problems = [section, ...wrappedSections(parsed.sections, section)].flatMap((s) =>
    findPlaceholders(s).map((key) => `[${s.name}] ${key}`),
  );
  if (problems.length > 0) {
    checks.push({ id: title, title, status: 'fail', detail: `placeholder credentials in ${problems.join(', ')}`, hint: 'put real credentials there with `poof cconfig --force`' });
    return undefined;
  }
  if (!section.values.type) {
    checks.push({ id: title, title, status: 'fail', detail: `[${section.name}] has no "type"`, hint: 'rewrite it with `poof cconfig --force`' });
    return undefined;
  }
  checks.push({ id: title, title, status: 'ok', detail: `[${section.name}] has type ${section.values.type}` });
  return { section, baseSection: wrappedSections(parsed.sections, section)[0] };
}

/** The sections a crypt or alias remote points to, which must hold real credentials too. */
function wrappedSections(sections: RcloneSection[], section: RcloneSection): RcloneSection[] {
  const target = section.values.remote?.split(':')[0];
  if (!target || !section.values.remote?.includes(':')) return [];
  return sections.filter((s) => s.name === target);
}

async function checkMappedDirs(config: PoofConfig, checks: Check[]): Promise<void> {
  for (const [dir, name] of Object.entries(config.paths)) {
    const id = `dir:${name}`;
    try {
      const entries = await readdir(dir);
      checks.push({ id, title: `mapped dir ${name}`, status: 'ok', detail: `${dir} exists (${entries.length} entries)` });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const detail =
        code === 'ENOENT' ? `${dir} does not exist (or its disk is not mounted)` : code === 'ENOTDIR' ? `${dir} is not a directory` : `${dir} cannot be read (${code})`;
      checks.push({ id, title: `mapped dir ${name}`, status: 'fail', detail, hint: 'create or mount it, or remove the mapping with `poof config --unmap`' });
    }
  }
}

/** A warning, never a failure: verify answers "is poof ready", and a stale copy does not stop it. */
async function checkLastBackups(ctx: Context, config: PoofConfig): Promise<Check> {
  const hours = config.staleAfterHours ?? DEFAULT_STALE_AFTER_HOURS;
  const stale = findStaleMappings(Object.values(config.paths), await readRunRecords(ctx.paths.historyFile, Infinity), new Date(), hours);
  const title = 'last backup';
  if (stale.length === 0) return { id: 'last-backup', title, status: 'ok', detail: `every mapping was backed up successfully within ${hours} hours` };
  return {
    id: 'last-backup',
    title,
    status: 'warn',
    detail: stale.map((s) => describeStaleMapping(s, hours)).join('; '),
    hint: `run \`poof backup\` and check its schedule with \`poof schedule status\`; "staleAfterHours" in poof.conf sets the limit`,
  };
}

interface RemoteInputs {
  rclone: Rclone | undefined;
  config: PoofConfig | undefined;
  section: RcloneSection | undefined;
  offline: boolean;
}

const REMOTE_TIMEOUT_MS = 60_000;

async function checkRemote(ctx: Context, inputs: RemoteInputs, checks: Check[]): Promise<void> {
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
  const result = await rclone.run(
    ['lsf', '--config', ctx.paths.rcloneConf, '--ask-password=false', '--max-depth', '1', '--contimeout', '15s', '--timeout', '30s', '--retries', '1', '--low-level-retries', '2', target],
    { timeoutMs: REMOTE_TIMEOUT_MS },
  );
  if (result.exitCode === 0) {
    const count = result.stdout.split('\n').filter((l) => l !== '').length;
    checks.push({ id: title, title, status: 'ok', detail: `${target} is reachable (${count} entries)` });
  } else if (result.exitCode === 3) {
    checks.push({ id: title, title, status: 'ok', detail: `reachable; ${target} does not exist yet (the first backup creates it)` });
  } else if (result.timedOut) {
    checks.push({ id: title, title, status: 'fail', detail: `${target} did not answer within ${REMOTE_TIMEOUT_MS / 1000} s`, hint: 'check the network and the server address' });
  } else {
    checks.push({ id: title, title, status: 'fail', detail: `${target} failed (rclone exit ${result.exitCode}): ${lastErrorLine(result.stderr)}`, hint: 'check the credentials and address with `poof cconfig --force`' });
  }
}

function checkEncryption(config: PoofConfig | undefined, section: RcloneSection | undefined, checks: Check[]): void {
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

function checkEnvironment(ctx: Context, checks: Check[]): void {
  const { dropped } = rcloneEnvironment(ctx.env);
  if (dropped.length === 0) return;
  const notes = dropped.map((name) => (name === 'AWS_CA_BUNDLE' ? 'AWS_CA_BUNDLE (passed to rclone as --ca-cert, since rclone cannot use it)' : name));
  checks.push({ id: 'environment', title: 'environment', status: 'warn', detail: `not passed to rclone: ${notes.join(', ')}` });
}

/**
 * Pure: what a backup keeps of each file on this storage, so nobody learns it from a restore.
 * rclone 1.60 keeps modes (with --metadata) on local and S3 storage only; SFTP and WebDAV keep
 * modification times; crypt keeps no metadata; S3-like storage has no empty directories.
 */
export function fidelityCheck(config: PoofConfig, section: RcloneSection, baseSection: RcloneSection | undefined): Check {
  const backend = storageType(section, baseSection);
  const crypt = isCrypt(section);
  const kept = ['contents', 'modification times'];
  const lost: string[] = [];
  (keepsModes(backend, crypt) ? kept : lost).push('file modes and owners');
  (['s3', 'b2'].includes(backend) ? lost : kept).push('empty directories');
  const links = { follow: 'symbolic links followed (their targets are copied)', links: 'symbolic links kept as links', skip: 'symbolic links skipped' }[config.symlinks ?? 'follow'];
  const where = `${crypt ? 'crypt over ' : ''}${backend === 'alias' ? 'a local directory' : backend}`;
  return {
    id: 'fidelity',
    title: 'fidelity',
    status: 'ok',
    detail: `${where} keeps ${kept.join(', ')}${lost.length ? `; not ${lost.join(' or ')}` : ''}; ${links}`,
  };
}


/**
 * With crypt on, prove the keys: names already stored must decrypt (rclone 1.60 lists a crypt
 * remote opened with a wrong password as empty, exit 0); then a canary written through the crypt
 * remote must read back, and the storage underneath must not show its name in plain text.
 */
async function checkCryptKeys(ctx: Context, rclone: Rclone, config: PoofConfig, section: RcloneSection): Promise<Check> {
  const title = 'encryption keys';
  const id = 'crypt-keys';
  const wraps = section.values.remote ?? '';
  const flags = ['--config', ctx.paths.rcloneConf, '--ask-password=false', '--contimeout', '15s', '--timeout', '30s'];
  try {
    const proof = await proveCryptKey(rclone, ctx.paths.rcloneConf, section.name, wraps, Object.values(config.paths));
    if (!proof.ok) return { id, title, status: 'fail', detail: proof.detail, hint: 'restore the right keys with `poof key import FILE`' };
    const marker = `poof canary ${new Date().toISOString()}`;
    const written = await rclone.run(['rcat', `${section.name}:${CANARY}`, ...flags], { input: marker, timeoutMs: REMOTE_TIMEOUT_MS });
    if (written.exitCode !== 0) return { id, title, status: 'fail', detail: `could not write a canary through [${section.name}]: ${lastErrorLine(written.stderr)}` };
    const read = await rclone.run(['cat', `${section.name}:${CANARY}`, ...flags], { timeoutMs: REMOTE_TIMEOUT_MS });
    if (read.exitCode !== 0 || read.stdout !== marker) return { id, title, status: 'fail', detail: 'the canary written through the crypt remote did not read back' };
    const stored = await rclone.run(['lsf', wraps, '--max-depth', '1', ...flags], { timeoutMs: REMOTE_TIMEOUT_MS });
    if (stored.exitCode !== 0) return { id, title, status: 'fail', detail: `could not list ${wraps}: ${lastErrorLine(stored.stderr)}` };
    if (stored.stdout.split('\n').includes(CANARY)) return { id, title, status: 'fail', detail: `${wraps} shows the canary's name in plain text: names are not encrypted` };
    return { id, title, status: 'ok', detail: `${proof.detail}; a canary written through [${section.name}] reads back, and ${wraps} shows no plain name` };
  } catch (error) {
    return { id, title, status: 'fail', detail: (error as Error).message };
  }
}

/** Names longer than ~143 characters become too long for many providers once encrypted. */
async function checkCryptNameLengths(config: PoofConfig): Promise<Check[]> {
  const long: string[] = [];
  for (const dir of Object.keys(config.paths)) {
    const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
    for (const rel of entries.slice(0, 200_000)) {
      const name = path.basename(rel);
      if (name.length > CRYPT_NAME_LIMIT) long.push(path.join(dir, rel));
    }
  }
  if (long.length === 0) return [];
  const shown = long.slice(0, 3).join(', ');
  return [{ id: 'crypt-names', title: 'encryption', status: 'warn', detail: `${long.length} names are longer than ${CRYPT_NAME_LIMIT} characters and may be too long once encrypted on some providers: ${shown}${long.length > 3 ? ', ...' : ''}` }];
}
