/**
 * Pure: what each storage provider needs in rclone-poof.conf. `planProvider` turns the options a
 * user gave into template variables, the options still missing and the one secret to ask for.
 */

export const PROVIDERS = ['local', 's3', 'r2', 'b2', 'sftp', 'webdav'] as const;
export type ProviderId = (typeof PROVIDERS)[number];

export const PROVIDER_TITLES: Record<ProviderId, string> = {
  local: 'a local directory as the "cloud" (no account needed)',
  s3: 'Amazon S3 or an S3-compatible service (--endpoint)',
  r2: 'Cloudflare R2',
  b2: 'Backblaze B2',
  sftp: 'any SSH server (SFTP)',
  webdav: 'WebDAV (Nextcloud, ownCloud, ...)',
};

export const WEBDAV_VENDORS = ['other', 'nextcloud', 'owncloud', 'sharepoint', 'sharepoint-ntlm'] as const;
export const SHELL_TYPES = ['unix', 'powershell', 'cmd', 'none'] as const;

export interface ProviderOptions {
  root?: string;
  endpoint?: string;
  region?: string;
  s3Provider?: string;
  envAuth?: boolean;
  accessKeyId?: string;
  accountId?: string;
  account?: string;
  host?: string;
  port?: string;
  user?: string;
  keyFile?: string;
  knownHosts?: string;
  shellType?: string;
  url?: string;
  vendor?: string;
}

export type OptionName = keyof ProviderOptions;

export interface MissingOption {
  option: OptionName;
  flag: string;
  label: string;
}

export interface SecretSpec {
  /** Template variable that receives the secret. */
  name: string;
  label: string;
  /** rclone stores this kind of secret obscured (sftp/webdav passwords), not in the clear. */
  obscure: boolean;
}

export interface ProviderPlan {
  template: string;
  vars: Record<string, string | undefined>;
  missing: MissingOption[];
  errors: string[];
  secret?: SecretSpec;
}

export interface PlanDefaults {
  localRoot: string;
  user: string;
}

export function isProviderId(value: string): value is ProviderId {
  return (PROVIDERS as readonly string[]).includes(value);
}

/** What each provider adds to a plan: its template variables, missing options, errors, secret. */
type ProviderStep = (plan: ProviderPlan, options: ProviderOptions, defaults: PlanDefaults, need: Need) => void;
type Need = (option: OptionName, flag: string, label: string) => string | undefined;

/** One entry per storage provider: adding a provider is adding an entry (and its template). */
const PROVIDER_STEPS: Record<ProviderId, ProviderStep> = {
  local: (plan, options, defaults, _need) => {
    const root = options.root?.trim() || defaults.localRoot;
    if (!root.startsWith('/')) plan.errors.push(`--root must be an absolute directory path, got "${root}"`);
    plan.vars.root = root;
  },
  s3: (plan, options, _defaults, need) => {
    const endpoint = options.endpoint?.trim();
    if (endpoint !== undefined) checkUrl(plan, '--endpoint', endpoint);
    const s3Provider = options.s3Provider?.trim() || (endpoint ? 'Other' : 'AWS');
    const region = options.region?.trim() || 'us-east-1';
    if (!/^[a-z0-9-]+$/i.test(region)) plan.errors.push(`--region "${region}" is not a region name such as eu-west-1`);
    Object.assign(plan.vars, {
      provider: s3Provider,
      region,
      endpoint,
      // AWS creates buckets outside us-east-1 only when told where.
      location_constraint: s3Provider === 'AWS' && region !== 'us-east-1' ? region : undefined,
      env_auth: options.envAuth ? 'true' : 'false',
    });
    if (!options.envAuth) {
      plan.vars.access_key_id = need('accessKeyId', '--access-key-id', 'Access key ID');
      plan.secret = { name: 'secret_access_key', label: 'Secret access key', obscure: false };
  }
  },
  r2: (plan, options, _defaults, need) => {
  const endpoint = options.endpoint?.trim();
  if (endpoint !== undefined) {
    checkUrl(plan, '--endpoint', endpoint);
    plan.vars.endpoint = endpoint;
  } else {
    const accountId = need('accountId', '--account-id', 'Cloudflare account ID');
    if (accountId !== undefined && !/^[0-9a-f]{32}$/i.test(accountId)) {
      plan.errors.push('--account-id must be the 32 hex digits shown on the R2 overview page');
    }
    if (accountId !== undefined) plan.vars.endpoint = `https://${accountId}.r2.cloudflarestorage.com`;
  }
  plan.vars.access_key_id = need('accessKeyId', '--access-key-id', 'R2 access key ID');
  plan.secret = { name: 'secret_access_key', label: 'R2 secret access key', obscure: false };
  },
  b2: (plan, options, _defaults, need) => {
  plan.vars.account = need('account', '--account', 'B2 application key ID');
  plan.secret = { name: 'key', label: 'B2 application key', obscure: false };
  },
  sftp: (plan, options, defaults, need) => {
  plan.vars.host = need('host', '--host', 'SSH server host name');
  if (plan.vars.host !== undefined && /[\s/]/.test(plan.vars.host)) {
    plan.errors.push(`--host "${plan.vars.host}" must be a host name or address, without spaces or "/"`);
  }
  plan.vars.user = options.user?.trim() || defaults.user;
  const port = options.port?.trim() || '22';
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    plan.errors.push(`--port must be a number from 1 to 65535, got "${port}"`);
  }
  plan.vars.port = port;
  plan.vars.key_file = options.keyFile?.trim() || undefined;
  plan.vars.known_hosts_file = options.knownHosts?.trim() || undefined;
  const shellType = options.shellType?.trim();
  if (shellType !== undefined && !(SHELL_TYPES as readonly string[]).includes(shellType)) {
    plan.errors.push(`--shell-type must be one of ${SHELL_TYPES.join(', ')}`);
  }
  plan.vars.shell_type = shellType;
  if (plan.vars.key_file === undefined) plan.secret = { name: 'pass', label: 'SSH password', obscure: true };
  },
  webdav: (plan, options, _defaults, need) => {
  const url = need('url', '--url', 'WebDAV URL');
  if (url !== undefined) checkUrl(plan, '--url', url);
  plan.vars.url = url;
  const vendor = options.vendor?.trim() || 'other';
  if (!(WEBDAV_VENDORS as readonly string[]).includes(vendor)) {
    plan.errors.push(`--vendor must be one of ${WEBDAV_VENDORS.join(', ')}`);
  }
  plan.vars.vendor = vendor;
  plan.vars.user = options.user?.trim() || undefined;
  if (plan.vars.user !== undefined) plan.secret = { name: 'pass', label: 'WebDAV password', obscure: true };
  },
};

export function planProvider(
  provider: ProviderId,
  remote: string,
  options: ProviderOptions,
  defaults: PlanDefaults,
): ProviderPlan {
  const plan: ProviderPlan = { template: `rclone/${provider}.conf`, vars: { remote }, missing: [], errors: [] };
  const need: Need = (option, flag, label) => {
    const value = options[option];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    plan.missing.push({ option, flag, label });
    return undefined;
  };
  PROVIDER_STEPS[provider](plan, options, defaults, need);
  return plan;
}

function checkUrl(plan: ProviderPlan, flag: string, value: string): void {
  let ok = false;
  try {
    const url = new URL(value);
    ok = url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    ok = false;
  }
  if (!ok) plan.errors.push(`${flag} must be an http:// or https:// URL, got "${value}"`);
}
