import { realpath } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { runProgram, type ProgramResult } from '../process/run.js';
import { normalisePassword } from './conf-crypt.js';

/** What finding the password of an encrypted rclone-poof.conf needs: the environment and the OS. */
export interface ConfUnlock {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
}

/** The user's own password for an encrypted config, as rclone itself reads it. */
export const CONFIG_PASS_ENV = 'RCLONE_CONFIG_PASS';
/** How the keychain entries are named: one per rclone-poof.conf, by its path. */
export const KEYCHAIN_SERVICE = 'poof';

export interface KeychainCall {
  program: string;
  args: string[];
  /** Sent on stdin: the only way a password reaches these programs (never argv). */
  input?: string;
}

/** The OS keychain, as the commands that read, store and remove one rclone-poof.conf's password. */
export interface Keychain {
  /** The program, for messages: "secret-tool" or "security". */
  name: string;
  /** What to install when the program is missing. */
  install: string;
  lookup(file: string): KeychainCall;
  store(file: string, password: string): KeychainCall;
  remove(file: string): KeychainCall;
  /** The `--password-command` that gives plain rclone the same password. */
  passwordCommand(file: string): string[];
}

/**
 * Pure: the keychain of this OS. Linux and the BSDs: the Secret Service (GNOME Keyring, KWallet)
 * through libsecret's secret-tool, which reads the secret to store on stdin. macOS: the login
 * keychain through `security`; `security -i` reads its commands on stdin, so the password is
 * never in argv either.
 */
export function keychainFor(platform: NodeJS.Platform): Keychain | undefined {
  if (platform === 'darwin') {
    const quote = (value: string) => `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
    const lookupArgs = (file: string) => ['find-generic-password', '-s', KEYCHAIN_SERVICE, '-a', file, '-w'];
    return {
      name: 'security',
      install: 'it comes with macOS',
      lookup: (file) => ({ program: 'security', args: lookupArgs(file) }),
      store: (file, password) => ({
        program: 'security',
        args: ['-i'],
        input: `add-generic-password -U -s ${KEYCHAIN_SERVICE} -l ${quote(`poof: password of ${file}`)} -a ${quote(file)} -w ${quote(password)}\n`,
      }),
      remove: (file) => ({ program: 'security', args: ['delete-generic-password', '-s', KEYCHAIN_SERVICE, '-a', file] }),
      passwordCommand: (file) => ['security', ...lookupArgs(file)],
    };
  }
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd' || platform === 'netbsd') {
    const attributes = (file: string) => ['service', KEYCHAIN_SERVICE, 'file', file];
    return {
      name: 'secret-tool',
      install: 'Debian/Ubuntu: sudo apt-get install libsecret-tools; Fedora: sudo dnf install libsecret',
      lookup: (file) => ({ program: 'secret-tool', args: ['lookup', ...attributes(file)] }),
      store: (file, password) => ({ program: 'secret-tool', args: ['store', '--label', `poof: password of ${file}`, ...attributes(file)], input: password }),
      remove: (file) => ({ program: 'secret-tool', args: ['clear', ...attributes(file)] }),
      passwordCommand: (file) => ['secret-tool', 'lookup', ...attributes(file)],
    };
  }
  return undefined;
}

/** How long the keychain may take: a locked one can wait for a prompt nobody answers. */
const KEYCHAIN_TIMEOUT_MS = 20_000;

export type KeychainRunner = (call: KeychainCall, env: Record<string, string>) => Promise<ProgramResult>;

const runKeychain: KeychainRunner = (call, env) =>
  runProgram(call.program, call.args, { env, timeoutMs: KEYCHAIN_TIMEOUT_MS, ...(call.input !== undefined ? { input: call.input } : {}) });

function definedEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** Pure: the last thing a keychain program said, for one line of error (never its stdout: the secret). */
function complaint(result: ProgramResult): string {
  if (result.timedOut) return `no answer in ${KEYCHAIN_TIMEOUT_MS / 1000} s (a locked keychain waiting for a prompt?)`;
  const last = result.stderr.trim().split('\n').pop()?.trim();
  return last ? last : `exit ${result.exitCode}`;
}

/**
 * Where a file's keychain entry is kept: its real path, so a config dir reached through a
 * symbolic link finds the same entry.
 */
export async function keychainKey(file: string): Promise<string> {
  return realpath(file).catch(() => file);
}

/** The hint for a file whose keychain entry is missing: entries go by path, so a moved file loses it. */
function missingEntryHint(keychain: Keychain): string {
  const list = keychain.name === 'security' ? `security find-generic-password -s ${KEYCHAIN_SERVICE}` : `secret-tool search --all service ${KEYCHAIN_SERVICE}`;
  return `entries are kept by the file's path: if the config dir moved, \`${list}\` shows where the password is; or give it in $${CONFIG_PASS_ENV}`;
}

/**
 * This file's password from the OS keychain. A ConfigError says why there is none: no keychain
 * program, no entry for this file, or a keychain that could not be asked (locked, no session).
 */
export async function keychainPassword(file: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<string> {
  const keychain = keychainFor(unlock.platform);
  if (!keychain) throw new ConfigError(`${file} is encrypted and poof has no keychain on ${unlock.platform}`, `give the password in $${CONFIG_PASS_ENV}`);
  const key = await keychainKey(file);
  const result = await run(keychain.lookup(key), definedEnv(unlock.env));
  if (result.exitCode === -1 && /ENOENT/.test(result.stderr)) {
    throw new ConfigError(`${file} is encrypted and ${keychain.name} is not installed`, `install it (${keychain.install}), or give the password in $${CONFIG_PASS_ENV}`);
  }
  const password = result.exitCode === 0 ? normalisePassword(result.stdout) : undefined;
  if (password !== undefined) return password;
  const noEntry = result.exitCode === 0 || (!result.timedOut && result.stderr.trim() === '');
  if (noEntry) throw new ConfigError(`${file} is encrypted and the keychain (${keychain.name}) has no password for ${key}`, missingEntryHint(keychain));
  throw new ConfigError(
    `${file} is encrypted and the keychain (${keychain.name}) gave no password: ${complaint(result)}`,
    `unlock the keychain (log in), or give the password in $${CONFIG_PASS_ENV}; cron cannot reach a keychain: schedule with launchd or systemd`,
  );
}

/** Store a new password for this file in the keychain, and read it back to prove it is there. */
export async function storeConfPassword(file: string, password: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<Keychain> {
  const keychain = keychainFor(unlock.platform);
  if (!keychain) throw new ConfigError(`poof has no keychain on ${unlock.platform} to keep the password of ${file} in`, 'leave rclone-poof.conf unencrypted there');
  const env = definedEnv(unlock.env);
  const key = await keychainKey(file);
  const stored = await run(keychain.store(key, password), env);
  if (stored.exitCode !== 0) {
    const missing = stored.exitCode === -1 && /ENOENT/.test(stored.stderr);
    throw new ConfigError(
      missing ? `${keychain.name} is not installed: the password of ${file} cannot be kept` : `the keychain (${keychain.name}) did not store the password: ${complaint(stored)}`,
      missing ? `install it (${keychain.install})` : 'log in to a desktop session with an unlocked keychain, then try again',
    );
  }
  const back = await run(keychain.lookup(key), env);
  if (back.exitCode !== 0 || normalisePassword(back.stdout) !== password) {
    throw new ConfigError(`the keychain (${keychain.name}) stored the password but does not give it back: ${complaint(back)}`, 'nothing was encrypted; check the keychain, then try again');
  }
  return keychain;
}

/** Remove this file's password from the keychain; why not, when it could not. */
export async function forgetConfPassword(file: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<string | undefined> {
  const keychain = keychainFor(unlock.platform);
  if (!keychain) return `poof has no keychain on ${unlock.platform}`;
  const result = await run(keychain.remove(await keychainKey(file)), definedEnv(unlock.env));
  return result.exitCode === 0 ? undefined : complaint(result);
}
