import { VAULT_DIR } from './layout.js';

/**
 * What an OpenSSH server must deny a writer so it can only add files: every SFTP request that
 * removes, renames, links or changes an existing file's attributes. Opening an existing file for
 * writing is not among them: `-u 0222` leaves every file the writer creates read-only to it (and
 * setstat is denied, so it cannot make one writable again); directories it creates are read-only
 * too, so the folders it writes into are made beforehand, by the administrator.
 */
export const SFTP_WRITER_DENIED = 'remove,rename,posix-rename,rmdir,setstat,fsetstat,lsetstat,hardlink,symlink';

/** Pure: the ForceCommand of a write-only SFTP user (`-d`: where its sessions start). */
export function sftpWriterForceCommand(startDir?: string): string {
  return `internal-sftp${startDir ? ` -d ${startDir}` : ''} -P ${SFTP_WRITER_DENIED} -u 0222`;
}

/**
 * Pure: the lines to give an SFTP server's administrator: the sshd_config block for the writer,
 * and the shell commands (bash) that make every folder a backup writes into, owned by the writer.
 * `vault`: the vault's path on the server as the writer's sessions see it.
 */
export function sftpWriterSetup(user: string, vault: string): string[] {
  return [
    `# /etc/ssh/sshd_config on the server, then reload sshd (the writer "${user}" can add files, never change or remove them):`,
    `Match User ${user}`,
    `  ForceCommand ${sftpWriterForceCommand()}`,
    '  AllowTcpForwarding no',
    '  X11Forwarding no',
    `# as root on the server, from the directory the writer's sessions start in (its home):`,
    `mkdir -p '${vault}/runs' '${vault}'/data/{0,1,2,3,4,5,6,7,8,9,a,b,c,d,e,f}{0,1,2,3,4,5,6,7,8,9,a,b,c,d,e,f} && chown ${user} '${vault}/runs' '${vault}'/data/?? && chmod 755 '${vault}/runs' '${vault}'/data/??`,
    `# in rclone-poof.conf, the writer's remote: shell_type = none (it may run no command)`,
  ];
}

/** Pure: where a vault is below the bucket. */
export function vaultPathIn(bucket: string): string {
  return `${bucket}/${VAULT_DIR}`;
}
