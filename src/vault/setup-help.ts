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

/** The 256 folders objects go into, by the first two hex digits of their hash. */
export const SHARDS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The folders of a vault as the server stores them, where a crypt remote encrypts their names:
 * the vault's path below the writer's start, and the encrypted names of runs/, data/ and each
 * shard, in SHARDS' order.
 */
export interface EncryptedVaultDirs {
  vault: string;
  runs: string;
  data: string;
  shards: string[];
}

/**
 * Pure: the lines to give an SFTP server's administrator: the sshd_config block for the writer,
 * and the shell commands (bash) that make every folder a backup writes into, owned by the writer.
 * `vault`: the vault's path on the server as the writer's sessions see it; `encrypted`: the same
 * folders under a crypt remote's encrypted names.
 */
export function sftpWriterSetup(user: string, vault: string, encrypted?: EncryptedVaultDirs): string[] {
  const made = encrypted
    ? [
        `# as root on the server, from the directory the writer's sessions start in (its home); the names are the crypt remote's:`,
        `mkdir -p '${encrypted.vault}/${encrypted.runs}' && chown ${user} '${encrypted.vault}/${encrypted.runs}' && chmod 755 '${encrypted.vault}/${encrypted.runs}' && for d in ${encrypted.shards.join(' ')}; do mkdir -p '${encrypted.vault}/${encrypted.data}'/$d && chown ${user} '${encrypted.vault}/${encrypted.data}'/$d && chmod 755 '${encrypted.vault}/${encrypted.data}'/$d; done`,
      ]
    : [
        `# as root on the server, from the directory the writer's sessions start in (its home):`,
        `mkdir -p '${vault}/runs' '${vault}'/data/{0,1,2,3,4,5,6,7,8,9,a,b,c,d,e,f}{0,1,2,3,4,5,6,7,8,9,a,b,c,d,e,f} && chown ${user} '${vault}/runs' '${vault}'/data/?? && chmod 755 '${vault}/runs' '${vault}'/data/??`,
      ];
  return [
    `# /etc/ssh/sshd_config on the server, then reload sshd (the writer "${user}" can add files, never change or remove them):`,
    `Match User ${user}`,
    `  ForceCommand ${sftpWriterForceCommand()}`,
    '  AllowTcpForwarding no',
    '  X11Forwarding no',
    ...made,
    `# poof prune logs in with another key, as a user that may delete in those folders (root, or a group: chgrp GROUP, chmod 775)`,
    `# in rclone-poof.conf, the writer's remote: shell_type = none (it may run no command)`,
  ];
}

/** Pure: where a vault is below the bucket. */
export function vaultPathIn(bucket: string): string {
  return `${bucket}/${VAULT_DIR}`;
}

/**
 * Pure: how to give this machine a key that can only add files, for the storage a remote section
 * describes (its rclone type, and for S3 its provider): what the administrator does on the server
 * or in the provider's console. `vault`: the vault's path as the remote sees it (bucket first).
 */
export function appendOnlyHelp(section: { type?: string | undefined; provider?: string | undefined; user?: string | undefined }, vault: string, encrypted?: EncryptedVaultDirs): string[] {
  const [bucket, ...rest] = vault.split('/');
  const prefix = rest.join('/');
  switch (section.type) {
    case 'sftp':
      return sftpWriterSetup(section.user ?? 'backup', vault, encrypted);
    case 's3':
      if (section.provider === 'Cloudflare') {
        return [
          'Cloudflare R2: an API token that can write objects can also delete them. Add a bucket lock rule',
          `on the prefix "${prefix}/" (R2 > ${bucket} > Settings > Bucket lock rules) so no object there can be`,
          'deleted or overwritten before it is as old as the history you want to keep.',
        ];
      }
      return [
        `S3: give this machine an access key whose policy allows adding and reading objects below ${prefix}/, and nothing that deletes:`,
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::${bucket}/${prefix}/*` },
            { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: `arn:aws:s3:::${bucket}` },
          ],
        }),
        'PutObject can still replace an object: turn on versioning for the bucket (or Object Lock, which also',
        'stops deleting old versions), so the bucket keeps every version; the key must not have',
        's3:DeleteObjectVersion or s3:PutBucketVersioning.',
      ];
    case 'b2':
      return [
        'B2: create an application key restricted to the bucket with the capabilities listBuckets, listFiles,',
        'readFiles and writeFiles (not deleteFiles); keep the bucket\'s lifecycle at "keep all versions", so a',
        'file uploaded again under a name that exists hides the old version instead of removing it.',
      ];
    case 'alias':
    case 'local':
      return [
        'A local directory cannot refuse this machine anything: whatever can write there can delete.',
        'Use an SFTP server (OpenSSH: a write-only user), S3 with versioning or Object Lock, or B2 for append-only backups.',
      ];
    default:
      return [
        `This storage (${section.type ?? 'unknown'}) cannot refuse this machine anything: a key that can write can delete.`,
        'Use an SFTP server (OpenSSH: a write-only user), S3 with versioning or Object Lock, or B2 for append-only backups.',
      ];
  }
}
