import { mkdir } from 'node:fs/promises';
import type { Context } from '../context.js';
import { resolveDir } from '../fs/paths.js';
import { loadConfig } from '../config/store.js';
import { ExitCode, RunFailedError, UsageError } from '../errors.js';
import { ensurePrivateDir, keepInvalidCopy } from '../fs/atomic-write.js';
import { readTemplate } from '../assets.js';
import { escapeRcloneValue, renderTemplate, TemplateError } from '../render-template.js';
import { readRcloneConf, writeRcloneConf, type RcloneConf } from '../rclone/conf-file.js';
import { findSection, upsertSection } from '../rclone/ini.js';
import { obscureSecret } from '../rclone/obscure.js';
import {
  PROVIDERS,
  PROVIDER_TITLES,
  isProviderId,
  planProvider,
  type ProviderId,
  type ProviderOptions,
  type ProviderPlan,
} from '../rclone/providers.js';
import { CRYPT_REMOTE, cryptPair, wrappedRemote } from '../crypt/layout.js';
import { addCryptRemote, PASSPHRASE_ENV } from '../crypt/setup.js';
import { guardKeyReplacement } from '../safety/key-replacement.js';
import { askInput, askSelect, confirmOrDecline } from '../ui/prompts.js';
import { readSecret, SECRET_ENV } from '../ui/secret-input.js';
import type { cconfigSpec, OptionsOf } from './specs.js';
import { appendOnlyHelp, SHARDS, vaultPathIn, type EncryptedVaultDirs } from '../vault/setup-help.js';
import { VAULT_DIR } from '../vault/layout.js';
import { baseFlags } from '../rclone/args.js';

type CconfigOptions = OptionsOf<typeof cconfigSpec>;

/** Write the [remote] section of rclone-poof.conf for a provider; other sections are kept. */
export async function cconfigCommand(ctx: Context, options: CconfigOptions): Promise<number> {
  if (options.encryptConfig && options.decryptConfig) throw new UsageError('--encrypt-config and --decrypt-config ask for opposite things', 'give one of them');
  if (options.encryptConfig || options.decryptConfig) {
    const { decryptConfigCommand, encryptConfigCommand } = await import('./conf-encryption.js');
    return options.encryptConfig ? encryptConfigCommand(ctx) : decryptConfigCommand(ctx);
  }
  const { config } = await loadConfig(ctx.paths);
  if (options.appendOnlyHelp) {
    const conf = await readRcloneConf(ctx.paths.rcloneConf, ctx);
    const pair = cryptPair(conf, config.remote);
    const section = findSection(conf, pair.plain);
    if (!section) throw new UsageError(`no [${config.remote}] in ${ctx.paths.rcloneConf}`, 'set up the storage first: poof cconfig --provider ...');
    const encrypted = pair.crypt === config.remote ? await encryptedVaultDirs(ctx, conf, pair.crypt) : undefined;
    for (const line of appendOnlyHelp(section.values, encrypted?.vault ?? vaultPathIn(config.bucket), encrypted)) ctx.out(line);
    return ExitCode.ok;
  }
  if (options.secretStdin && options.passphraseStdin) throw new UsageError('--secret-stdin and --passphrase-stdin both read standard input', 'give one of them');
  if (options.askPassphrase && !ctx.interactive) {
    throw new UsageError('--ask-passphrase needs a terminal', `use --passphrase-stdin or $${PASSPHRASE_ENV}, or leave them out for a generated key`);
  }
  if (options.crypt) await guardKeyReplacement(ctx, config, { remote: CRYPT_REMOTE, command: 'cconfig', force: options.force, replaceKeys: options.replaceKeys });
  // --crypt alone adds encryption on top of the storage already configured.
  if (options.crypt && options.provider === undefined) return addCryptRemote(ctx, config, options);
  // The storage section is the plain remote, also when poof.conf points at its crypt wrapper.
  const remote = cryptPair(await readRcloneConf(ctx.paths.rcloneConf, ctx), config.remote).plain;
  const provider = await chooseProvider(ctx, options.provider);
  const where = { cwd: ctx.cwd, home: ctx.home };
  const providerOptions: ProviderOptions = {
    ...options,
    accessKeyId: options.accessKeyId ?? ctx.env.POOF_ACCESS_KEY_ID,
    ...(options.root ? { root: resolveDir(options.root, where) } : {}),
    ...(options.keyFile ? { keyFile: resolveDir(options.keyFile, where) } : {}),
    ...(options.knownHosts ? { knownHosts: resolveDir(options.knownHosts, where) } : {}),
  };
  const defaults = { localRoot: ctx.paths.defaultLocalRoot, user: ctx.user };
  let plan = planProvider(provider, remote, providerOptions, defaults);
  if (plan.missing.length > 0 && ctx.interactive) {
    for (const missing of plan.missing) {
      providerOptions[missing.option] = (await askInput({ message: `${missing.label}:`, validate: (v) => v.trim() !== '' || 'required' })) as never;
    }
    plan = planProvider(provider, remote, providerOptions, defaults);
  }
  if (plan.missing.length > 0) {
    const flags = plan.missing.map((m) => `${m.flag} (${m.label})`).join(', ');
    throw new UsageError(`--provider ${provider} needs ${flags}`, `see \`poof cconfig --help\``);
  }
  if (plan.errors.length > 0) throw new UsageError(plan.errors[0] ?? 'invalid options', undefined, plan.errors.slice(1));

  // Refuse to clobber before asking for any secret.
  const parsed = await readRcloneConf(ctx.paths.rcloneConf, ctx);
  let baseText = parsed.text ?? '';
  if (parsed.errors.length > 0) {
    if (!options.force) {
      throw new UsageError(`${ctx.paths.rcloneConf} cannot be parsed: ${parsed.errors[0]}`, 'fix it, or replace it with --force');
    }
    const keep = await keepInvalidCopy(ctx.paths.rcloneConf);
    ctx.err(`poof: the unparseable rclone-poof.conf was kept as ${keep}`);
    baseText = '';
  } else if (findSection(parsed, remote) && !options.force) {
    if (!ctx.interactive) {
      throw new UsageError(`${ctx.paths.rcloneConf} already has a [${remote}] section`, 'add --force to replace it');
    }
    await confirmOrDecline(`Replace the existing [${remote}] section?`, 'cconfig cancelled; nothing was written');
  }

  const vars = { ...plan.vars, ...(await secretVars(ctx, plan, provider, Boolean(options.secretStdin))) };
  let section: string;
  try {
    section = renderTemplate(readTemplate(plan.template), vars, escapeRcloneValue);
  } catch (error) {
    if (error instanceof TemplateError) throw new UsageError(error.message);
    throw error;
  }

  await ensurePrivateDir(ctx.paths.configDir);
  await writeRcloneConf(ctx.paths.rcloneConf, upsertSection(baseText, remote, section), ctx);
  if (provider === 'local' && vars.root) await mkdir(vars.root, { recursive: true, mode: 0o700 });

  ctx.out(maskSecrets(section, plan));
  ctx.err(`poof: wrote [${remote}] (${PROVIDER_TITLES[provider]}) to ${ctx.paths.rcloneConf}`);
  if (options.crypt) return addCryptRemote(ctx, { ...config, remote }, options);
  ctx.err('poof: next: `poof verify`');
  return ExitCode.ok;
}

async function chooseProvider(ctx: Context, given: string | undefined): Promise<ProviderId> {
  if (given !== undefined) {
    if (!isProviderId(given)) throw new UsageError(`--provider "${given}" is unknown`, `use one of ${PROVIDERS.join(', ')}`);
    return given;
  }
  if (!ctx.interactive) {
    ctx.err('poof: no --provider given: using local (a local directory as the "cloud")');
    return 'local';
  }
  return askSelect({
    message: 'Where should poof copy to?',
    choices: PROVIDERS.map((id) => ({ name: `${id}: ${PROVIDER_TITLES[id]}`, value: id })),
  });
}

async function secretVars(ctx: Context, plan: ProviderPlan, provider: ProviderId, fromStdin: boolean) {
  if (!plan.secret) return {};
  const secret = await readSecret(plan.secret.label, { fromStdin, env: ctx.env, interactive: ctx.interactive });
  if (secret === undefined) {
    const alternative = provider === 'sftp' ? ' or give --key-file FILE' : '';
    throw new UsageError(
      `--provider ${provider} needs the ${plan.secret.label.toLowerCase()}`,
      `set ${SECRET_ENV}, pipe it with --secret-stdin, or run on a terminal to be asked${alternative} (never on the command line)`,
    );
  }
  if (!plan.secret.obscure) return { [plan.secret.name]: secret };
  const rclone = await ctx.locateRclone();
  return { [plan.secret.name]: await obscureSecret(rclone, secret) };
}

/** The section as written, with the secret's value hidden. */
function maskSecrets(section: string, plan: ProviderPlan): string {
  if (!plan.secret) return section;
  const key = plan.secret.name;
  return section.replace(new RegExp(`^(${key}\\s*=\\s*).+$`, 'm'), '$1***');
}

/**
 * The vault's folders as the storage sees them under a crypt remote, which encrypts every name:
 * `rclone backend encode` gives them (the same names a backup writes), for the administrator to
 * make beforehand on a write-only SFTP server, or to name in an S3 policy.
 */
async function encryptedVaultDirs(ctx: Context, conf: RcloneConf, crypt: string): Promise<EncryptedVaultDirs> {
  const wraps = wrappedRemote(findSection(conf, crypt)!);
  const names = [VAULT_DIR, `${VAULT_DIR}/runs`, `${VAULT_DIR}/data`, ...SHARDS.map((shard) => `${VAULT_DIR}/data/${shard}`)];
  const rclone = await ctx.locateRclone({ cacheVersion: true });
  const result = await rclone.run(['backend', 'encode', `${crypt}:`, ...names, ...baseFlags(ctx.paths.rcloneConf)], { timeoutMs: 60_000 });
  const encoded = result.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  if (result.exitCode !== 0 || encoded.length !== names.length) {
    throw new RunFailedError(`rclone could not give the encrypted names of the vault's folders (exit ${result.exitCode}: ${result.stderr.trim().split('\n').pop() ?? ''})`);
  }
  const last = (name: string) => name.slice(name.lastIndexOf('/') + 1);
  const vault = wraps?.path ? `${wraps.path}/${encoded[0]}` : encoded[0]!;
  return { vault, runs: last(encoded[1]!), data: last(encoded[2]!), shards: encoded.slice(3).map(last) };
}
