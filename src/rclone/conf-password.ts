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

const known = new Map<string, string>();

/**
 * The password of an encrypted rclone-poof.conf: $RCLONE_CONFIG_PASS when set (as rclone reads
 * it), else this file's entry in the OS keychain. Asked once per process and file.
 */
export async function confPassword(file: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<string> {
  const fromEnv = unlock.env[CONFIG_PASS_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const cached = known.get(file);
  if (cached !== undefined) return cached;
  const keychain = keychainFor(unlock.platform);
  const hint = `unlock the keychain (log in), or give the password in $${CONFIG_PASS_ENV}; cron cannot reach a keychain: schedule with launchd or systemd`;
  if (!keychain) throw new ConfigError(`${file} is encrypted and poof has no keychain on ${unlock.platform}`, `give the password in $${CONFIG_PASS_ENV}`);
  const result = await run(keychain.lookup(file), definedEnv(unlock.env));
  if (result.exitCode === -1 && /ENOENT/.test(result.stderr)) {
    throw new ConfigError(`${file} is encrypted and ${keychain.name} is not installed`, `install it (${keychain.install}), or give the password in $${CONFIG_PASS_ENV}`);
  }
  const password = result.exitCode === 0 ? normalisePassword(result.stdout) : undefined;
  if (password === undefined) {
    const why = result.exitCode === 0 ? 'it has no password for this file' : complaint(result);
    throw new ConfigError(`${file} is encrypted and the keychain (${keychain.name}) gave no password: ${why}`, hint);
  }
  known.set(file, password);
  return password;
}

/** Store a new password for this file in the keychain, and read it back to prove it is there. */
export async function storeConfPassword(file: string, password: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<Keychain> {
  const keychain = keychainFor(unlock.platform);
  if (!keychain) throw new ConfigError(`poof has no keychain on ${unlock.platform} to keep the password of ${file} in`, 'leave rclone-poof.conf unencrypted there');
  const env = definedEnv(unlock.env);
  const stored = await run(keychain.store(file, password), env);
  if (stored.exitCode !== 0) {
    const missing = stored.exitCode === -1 && /ENOENT/.test(stored.stderr);
    throw new ConfigError(
      missing ? `${keychain.name} is not installed: the password of ${file} cannot be kept` : `the keychain (${keychain.name}) did not store the password: ${complaint(stored)}`,
      missing ? `install it (${keychain.install})` : 'log in to a desktop session with an unlocked keychain, then try again',
    );
  }
  const back = await run(keychain.lookup(file), env);
  if (back.exitCode !== 0 || normalisePassword(back.stdout) !== password) {
    throw new ConfigError(`the keychain (${keychain.name}) stored the password but does not give it back: ${complaint(back)}`, 'nothing was encrypted; check the keychain, then try again');
  }
  known.set(file, password);
  return keychain;
}

/** Remove this file's password from the keychain (after the file was written in the clear). */
export async function forgetConfPassword(file: string, unlock: ConfUnlock, run: KeychainRunner = runKeychain): Promise<void> {
  known.delete(file);
  const keychain = keychainFor(unlock.platform);
  if (keychain) await run(keychain.remove(file), definedEnv(unlock.env));
}
