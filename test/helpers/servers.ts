import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RunningServer {
  port: number;
  /** The server's process, when it runs in its own. */
  pid?: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Wait until something accepts connections on the port (bounded). */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** s3rver in this process (it checks only the access key ID: S3RVER). */
export async function startS3(directory: string, buckets: string[] = []): Promise<RunningServer> {
  const { default: S3rver } = await import('s3rver');
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return { port, stop: () => server.close() };
}

/**
 * `rclone serve sftp` over a directory, user "u" with password "p" (a Go SFTP server). Its
 * generated host keys go beside the directory: rclone would otherwise keep them in the real
 * ~/.cache/rclone/serve-sftp of whoever runs the tests.
 */
export async function startRcloneSftp(directory: string, fixedPort?: number): Promise<RunningServer> {
  await mkdir(directory, { recursive: true });
  const port = fixedPort ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null' };
  delete env.AWS_CA_BUNDLE;
  const cacheDir = `${directory.replace(/\/+$/, '')}.rclone-cache`;
  const child = spawn('rclone', ['serve', 'sftp', directory, '--addr', `127.0.0.1:${port}`, '--user', 'u', '--pass', 'p', '--cache-dir', cacheDir], {
    env,
    stdio: 'ignore',
  });
  await waitForPort(port);
  return { port, ...(child.pid ? { pid: child.pid } : {}), stop: () => stopChild(child) };
}

/** `rclone serve webdav` over a directory, user "u" with password "p" (keeps neither times nor hashes). */
export async function startRcloneWebdav(directory: string): Promise<RunningServer> {
  await mkdir(directory, { recursive: true });
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, RCLONE_CONFIG: '/dev/null' };
  const child = spawn('rclone', ['serve', 'webdav', directory, '--addr', `127.0.0.1:${port}`, '--user', 'u', '--pass', 'p'], { env, stdio: 'ignore' });
  await waitForPort(port);
  return { port, ...(child.pid ? { pid: child.pid } : {}), stop: () => stopChild(child) };
}

/** A user that may only write new files (the ForceCommand line, given where sessions start). */
export interface WriteOnlyUser {
  user: string;
  forceCommand: (root: string) => string;
}

export interface SshServer extends RunningServer {
  /** Where SFTP sessions start: relative remote paths are under it. */
  root: string;
  /** The login: the user the tests run as (sshd, not running as root, can log in only as itself). */
  user: string;
  clientKey: string;
  knownHosts: string;
}

/**
 * A real OpenSSH sshd with a throwaway host key and config, key login as the current user (by
 * uid: $USER may be unset or name someone else, e.g. under sudo or in a container). SFTP sessions
 * start in `root` instead of the user's home, so relative remote paths (a poof bucket) land in the
 * test's own temp dir, never in the real home of the user running the tests; the login user's
 * ~/.ssh (authorized_keys, rc) is never read. The keys and config go beside `root`, in the test's
 * temp dir too, and are removed by stop().
 */
export async function startSshd(root: string, options: { writeOnly?: WriteOnlyUser } = {}): Promise<SshServer> {
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(path.join(path.dirname(root), 'sshd-'));
  const port = await freePort();
  const run = (cmd: string, args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
    });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_ed25519')]);
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client')]);
  const { readFile } = await import('node:fs/promises');
  await writeFile(path.join(dir, 'authorized_keys'), await readFile(path.join(dir, 'client.pub')));
  const hostPub = (await readFile(path.join(dir, 'host_ed25519.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await writeFile(path.join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostPub}\n`);
  await writeFile(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitUserRC no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      `Subsystem sftp internal-sftp -d ${root}`,
      ...(options.writeOnly ? [`Match User ${options.writeOnly.user}`, `  AuthorizedKeysFile ${path.join(dir, 'writer_keys')}`, `  ForceCommand ${options.writeOnly.forceCommand(root)}`] : []),
      '',
    ].join('\n'),
  );
  if (options.writeOnly) {
    // The writer's keys are read as the writer: its folder must be open to it, as the way to `root`.
    await writeFile(path.join(dir, 'writer_keys'), await readFile(path.join(dir, 'client.pub')), { mode: 0o644 });
    await chmod(dir, 0o755);
    for (let up = root; up !== path.dirname(up); up = path.dirname(up)) await chmod(up, ((await stat(up)).mode & 0o777) | 0o011);
  }
  await mkdir('/run/sshd', { recursive: true }).catch(() => {});
  const child = spawn('/usr/sbin/sshd', ['-f', path.join(dir, 'sshd_config'), '-D', '-e'], { stdio: 'ignore' });
  await waitForPort(port);
  const stop = async () => {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  };
  return { port, root, user: os.userInfo().username, clientKey: path.join(dir, 'client'), knownHosts: path.join(dir, 'known_hosts'), stop };
}

export interface Keyring {
  /** What a program needs to reach this keyring (the session bus). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A real Secret Service, as a desktop login gives one: a D-Bus session bus and GNOME Keyring,
 * its login keyring unlocked with a password, everything under `dir` (HOME is where the
 * keyring files go). secret-tool talks to it as it would on a laptop.
 */
export async function startKeyring(dir: string, home: string): Promise<Keyring> {
  for (const program of ['dbus-daemon', 'gnome-keyring-daemon', 'secret-tool']) {
    const found = await new Promise<boolean>((resolve) => {
      const probe = spawn('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
      probe.on('exit', (code) => resolve(code === 0));
    });
    if (!found) throw new Error(`${program} is missing: install dbus-daemon, gnome-keyring and libsecret-tools (as .ci/run does)`);
  }
  const runtime = path.join(dir, 'runtime');
  await mkdir(runtime, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, 'bus');
  // The bus starts no service on demand. The stock session bus would start a second
  // gnome-keyring-daemon (one without the unlocked login keyring, and with the real HOME) for
  // a secret-tool call that comes before this keyring has taken its name.
  const config = path.join(dir, 'bus.conf');
  await writeFile(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--nopidfile'], { stdio: 'ignore' });
  const env = { DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`, XDG_RUNTIME_DIR: runtime };
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env };
  let keyring: ChildProcess | undefined;
  const stop = async () => {
    if (keyring) await stopChild(keyring);
    await stopChild(bus);
  };
  try {
    for (let i = 0; i < 100 && !(await stat(socket).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
    keyring = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], { env: base, stdio: ['pipe', 'ignore', 'ignore'] });
    keyring.stdin?.end('keyring-login-password');
    // Ready when a secret can be stored and cleared again. A lookup alone answers (exit 1, no
    // such secret) before the daemon has made its login collection, and a store at that moment
    // fails with "Object does not exist at path .../collection/login".
    const tool = (args: string[], input?: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const probe = spawn('secret-tool', args, { env: base, stdio: ['pipe', 'ignore', 'pipe'] });
        let stderr = '';
        probe.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        probe.on('exit', (code) => resolve({ code, stderr }));
        probe.stdin.end(input ?? '');
      });
    for (let i = 0; ; i++) {
      const answer = await tool(['store', '--label=poof test probe', 'probe', 'ready'], 'ready');
      if (answer.code === 0) break;
      if (i >= 100) throw new Error(`the keyring did not store a secret within 10 s: ${answer.stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const cleared = await tool(['clear', 'probe', 'ready']);
    if (cleared.code !== 0) throw new Error(`the keyring did not clear its probe: ${cleared.stderr.trim()}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, stop };
}
