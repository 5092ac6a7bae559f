import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTemplate } from '../../src/assets.js';
import { escapeRcloneValue, renderTemplate, TemplateError } from '../../src/render-template.js';
import { parseRcloneConf } from '../../src/rclone/ini.js';
import { planProvider, PROVIDERS, type ProviderId, type ProviderOptions } from '../../src/rclone/providers.js';

describe('renderTemplate', () => {
  it('fills required values and drops lines of unset optional ones', () => {
    const out = renderTemplate('[{{remote}}]\nkey = {{key?}}\nhost = {{ host }}\n', { remote: 'r', host: 'h' });
    assert.equal(out, '[r]\nhost = h\n');
  });
  it('refuses a missing required value, naming it', () => {
    assert.throws(() => renderTemplate('a = {{alpha}}', {}), (e: Error) => e instanceof TemplateError && /"alpha"/.test(e.message));
  });
  it('treats an empty optional value as unset', () => {
    assert.equal(renderTemplate('x = {{x?}}\ny', { x: '' }), 'y');
  });
  it('escapes for rclone config: single line, no surrounding spaces', () => {
    assert.throws(() => renderTemplate('k = {{v}}', { v: 'a\nb = c' }, escapeRcloneValue), /single line/);
    assert.throws(() => renderTemplate('k = {{v}}', { v: ' a' }, escapeRcloneValue), /spaces/);
    assert.equal(renderTemplate('k = {{v}}', { v: 'a b;#c' }, escapeRcloneValue), 'k = a b;#c');
  });
});

const DEFAULTS = { localRoot: '/home/joe/.local/share/poof/local-cloud', user: 'joe' };
const FULL_OPTIONS: Record<ProviderId, ProviderOptions> = {
  local: { root: '/mnt/disk/poof' },
  s3: { region: 'eu-west-1', accessKeyId: 'AKIAEXAMPLE' },
  r2: { accountId: '0123456789abcdef0123456789abcdef', accessKeyId: 'r2key' },
  b2: { account: '0012345' },
  sftp: { host: 'nas.local', user: 'joe', keyFile: '/home/joe/.ssh/id_ed25519', shellType: 'none' },
  webdav: { url: 'https://cloud.example.com/remote.php/dav/files/joe', vendor: 'nextcloud', user: 'joe' },
};
const SECRETS: Record<string, string> = { secret_access_key: 'SECRETKEY', key: 'B2KEY', pass: 'OBSCURED' };

// The expected sections: a snapshot of each rendered template.
const EXPECTED: Record<ProviderId, string> = {
  local: '[poof-backup]\ntype = alias\nremote = /mnt/disk/poof\n',
  s3: '[poof-backup]\ntype = s3\nprovider = AWS\nenv_auth = false\naccess_key_id = AKIAEXAMPLE\nsecret_access_key = SECRETKEY\nregion = eu-west-1\nlocation_constraint = eu-west-1\nacl = private\n',
  r2: '[poof-backup]\ntype = s3\nprovider = Cloudflare\nenv_auth = false\naccess_key_id = r2key\nsecret_access_key = SECRETKEY\nregion = auto\nendpoint = https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com\nacl = private\n',
  b2: '[poof-backup]\ntype = b2\naccount = 0012345\nkey = B2KEY\n',
  sftp: '[poof-backup]\ntype = sftp\nhost = nas.local\nuser = joe\nport = 22\nkey_file = /home/joe/.ssh/id_ed25519\nshell_type = none\n',
  webdav: '[poof-backup]\ntype = webdav\nurl = https://cloud.example.com/remote.php/dav/files/joe\nvendor = nextcloud\nuser = joe\npass = OBSCURED\n',
};

describe('provider templates', () => {
  for (const provider of PROVIDERS) {
    it(`${provider}: renders the expected section, which parses back`, () => {
      const plan = planProvider(provider, 'poof-backup', FULL_OPTIONS[provider], DEFAULTS);
      assert.deepEqual(plan.missing, []);
      assert.deepEqual(plan.errors, []);
      const vars = { ...plan.vars, ...(plan.secret ? { [plan.secret.name]: SECRETS[plan.secret.name] } : {}) };
      const text = renderTemplate(readTemplate(plan.template), vars, escapeRcloneValue);
      assert.equal(text, EXPECTED[provider]);
      const parsed = parseRcloneConf(text);
      assert.deepEqual(parsed.errors, []);
      assert.equal(parsed.sections[0]?.name, 'poof-backup');
    });
  }
});

describe('planProvider', () => {
  it('local defaults to the data dir and needs an absolute root', () => {
    assert.equal(planProvider('local', 'r', {}, DEFAULTS).vars.root, DEFAULTS.localRoot);
    assert.match(planProvider('local', 'r', { root: 'relative' }, DEFAULTS).errors[0] ?? '', /--root must be an absolute/);
  });
  it('s3 with an endpoint is an S3-compatible "Other" without a location constraint', () => {
    const plan = planProvider('s3', 'r', { endpoint: 'http://127.0.0.1:4568', accessKeyId: 'S3RVER' }, DEFAULTS);
    assert.equal(plan.vars.provider, 'Other');
    assert.equal(plan.vars.location_constraint, undefined);
    assert.equal(plan.vars.region, 'us-east-1');
    assert.deepEqual(plan.secret, { name: 'secret_access_key', label: 'Secret access key', obscure: false });
  });
  it('s3 with --env-auth needs no keys', () => {
    const plan = planProvider('s3', 'r', { envAuth: true }, DEFAULTS);
    assert.deepEqual(plan.missing, []);
    assert.equal(plan.secret, undefined);
    assert.equal(plan.vars.env_auth, 'true');
  });
  it('lists what is missing with its flag', () => {
    assert.deepEqual(planProvider('s3', 'r', {}, DEFAULTS).missing.map((m) => m.flag), ['--access-key-id']);
    assert.deepEqual(planProvider('r2', 'r', {}, DEFAULTS).missing.map((m) => m.flag), ['--account-id', '--access-key-id']);
    assert.deepEqual(planProvider('b2', 'r', {}, DEFAULTS).missing.map((m) => m.flag), ['--account']);
    assert.deepEqual(planProvider('sftp', 'r', {}, DEFAULTS).missing.map((m) => m.flag), ['--host']);
    assert.deepEqual(planProvider('webdav', 'r', {}, DEFAULTS).missing.map((m) => m.flag), ['--url']);
  });
  it('rejects bad values with the flag named', () => {
    assert.match(planProvider('s3', 'r', { endpoint: 'ftp://x', accessKeyId: 'a' }, DEFAULTS).errors[0] ?? '', /--endpoint must be an http/);
    assert.match(planProvider('r2', 'r', { accountId: 'xyz', accessKeyId: 'a' }, DEFAULTS).errors[0] ?? '', /--account-id must be the 32 hex/);
    assert.match(planProvider('sftp', 'r', { host: 'h', port: '70000' }, DEFAULTS).errors[0] ?? '', /--port must be a number/);
    assert.match(planProvider('sftp', 'r', { host: 'a b' }, DEFAULTS).errors[0] ?? '', /--host/);
    assert.match(planProvider('webdav', 'r', { url: 'https://x', vendor: 'dropbox' }, DEFAULTS).errors[0] ?? '', /--vendor must be one of/);
  });
  it('sftp asks for an obscured password only without a key file', () => {
    assert.deepEqual(planProvider('sftp', 'r', { host: 'h' }, DEFAULTS).secret, { name: 'pass', label: 'SSH password', obscure: true });
    assert.equal(planProvider('sftp', 'r', { host: 'h', keyFile: '/k' }, DEFAULTS).secret, undefined);
    assert.equal(planProvider('sftp', 'r', { host: 'h' }, DEFAULTS).vars.user, 'joe');
  });
});
