import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolvePaths, type PathInputs } from '../../src/config/paths.js';

const dirs = { config: '/home/joe/.config/poof', data: '/home/joe/.local/share/poof', log: '/home/joe/.local/state/poof' };
const base: PathInputs = { dirs, home: '/home/joe', platform: 'linux', cwd: '/work', env: {} };

describe('resolvePaths', () => {
  it('uses the platform dirs by default', () => {
    const p = resolvePaths(base);
    assert.equal(p.configDirSource, 'default');
    assert.equal(p.poofConf, '/home/joe/.config/poof/poof.conf');
    assert.equal(p.rcloneConf, '/home/joe/.config/poof/rclone-poof.conf');
    assert.equal(p.schemaFile, '/home/joe/.config/poof/poof.schema.json');
    assert.equal(p.stateDir, '/home/joe/.local/state/poof');
    assert.equal(p.lockFile, '/home/joe/.local/state/poof/poof.lock');
    assert.equal(p.historyFile, '/home/joe/.local/state/poof/history.jsonl');
    assert.equal(p.defaultLocalRoot, '/home/joe/.local/share/poof/local-cloud');
  });

  it('prefers --confdir over POOF_CONFIG_DIR over the default', () => {
    const env = { POOF_CONFIG_DIR: '/etc/poof-env' };
    assert.equal(resolvePaths({ ...base, env }).configDir, '/etc/poof-env');
    assert.equal(resolvePaths({ ...base, env }).configDirSource, 'env');
    const flagged = resolvePaths({ ...base, env, confdirFlag: '/srv/poof' });
    assert.equal(flagged.configDir, '/srv/poof');
    assert.equal(flagged.configDirSource, 'flag');
  });

  it('resolves a relative --confdir against the working directory and ignores an empty one', () => {
    assert.equal(resolvePaths({ ...base, confdirFlag: 'conf' }).configDir, '/work/conf');
    assert.equal(resolvePaths({ ...base, env: { POOF_CONFIG_DIR: ' ' } }).configDirSource, 'default');
  });

  it('gives each non-default config dir its own state dir, outside the config dir', () => {
    const a = resolvePaths({ ...base, confdirFlag: '/a' });
    const b = resolvePaths({ ...base, confdirFlag: '/b' });
    assert.notEqual(a.lockFile, b.lockFile);
    assert.match(a.stateDir, /^\/home\/joe\/\.local\/state\/poof\/configs\/[0-9a-f]{12}$/);
    assert.equal(resolvePaths({ ...base, confdirFlag: '/a' }).stateDir, a.stateDir, 'stable across runs');
    assert.equal(resolvePaths({ ...base, env: { POOF_STATE_DIR: '/var/poof' } }).stateDir, '/var/poof');
  });

  it('knows where the original poof kept its config', () => {
    assert.equal(resolvePaths({ ...base, platform: 'darwin', home: '/Users/joe' }).legacyConfigDir, '/Users/joe/Library/Application Support/poof');
    assert.equal(resolvePaths(base).legacyConfigDir, '/home/joe/.config/poof');
  });
});
