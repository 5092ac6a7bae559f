import { Command, Option, type OptionValues } from '@commander-js/extra-typings';

/**
 * Every command's declaration: its options and help. The option types commands receive are
 * derived from these (commander's extra typings), so a flag renamed here is a type error in the
 * command that reads it. Only commander is loaded here: `poof --help` stays fast.
 */

/** The options a command's action receives, from its declaration. */
export type OptionsOf<Spec extends () => { opts(): object }> = ReturnType<ReturnType<Spec>['opts']>;

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

const kindOption = () =>
  new Option('--kind <kind>', 'launchd, systemd or cron (install: launchd on macOS, cron elsewhere by default; status and remove: every kind by default)').choices(['launchd', 'systemd', 'cron'] as const);

export const configSpec = () =>
  new Command('config')
    .description('create or change poof.conf: which local directories go to which remote directory')
    .option(
      '--map <dir[=name]>',
      'map a local directory to a remote directory name (repeatable; NAME defaults to the directory\'s own name)',
      collect,
    )
    .option('--unmap <dir|name>', 'remove a mapping by local directory or remote name (repeatable)', collect)
    .option('--remote <name>', 'rclone remote to use (a section of rclone-poof.conf)')
    .option('--bucket <name>', 'bucket or top directory on the remote')
    .option('--exclude <pattern>', 'rclone filter pattern never to copy (repeatable)', collect)
    .addOption(new Option('--symlinks <mode>', 'symbolic links: follow, links or skip').choices(['follow', 'links', 'skip'] as const))
    .option('--force', 'change an existing poof.conf without asking')
    .addHelpText(
      'after',
      `${examples([
        'poof config                                   # wizard on a terminal; defaults otherwise',
        'poof config --map ~/Documents=Documents --map ~/Pictures',
        'poof config --map ~/data/year=2024=year-2024 --force   # a path with "=" needs a name',
        'poof config --unmap Pictures --force',
        'poof config --exclude "*.tmp" --exclude "node_modules/**" --force',
      ])}
--map DIR=NAME: the last "=" separates DIR from NAME, and NAME must be one remote name
(not empty, no "/" or "\\", not "." or ".."); without "=", NAME is the directory's own name.
So a directory whose path contains "=" always needs =NAME: --map ~/w/a=b=AB maps ~/w/a=b as AB.
DIR must be a directory: a file is refused; a missing one is accepted with a warning (it may be
a disk not mounted yet), unless the whole argument exists (then give =NAME).
`,
    );

export const cconfigSpec = () =>
  new Command('cconfig')
    .description('create rclone-poof.conf: the storage poof copies to')
    .addOption(
      new Option('--provider <name>', 'storage provider').choices(['local', 's3', 'r2', 'b2', 'sftp', 'webdav'] as const),
    )
    .option('--root <dir>', 'local: directory that plays the cloud')
    .option('--endpoint <url>', 's3/r2: endpoint URL of an S3-compatible service')
    .option('--region <region>', 's3: region (default us-east-1)')
    .option('--s3-provider <name>', 's3: rclone provider name (AWS, Minio, Wasabi, Other, ...)')
    .option('--env-auth', 's3: take credentials from the AWS environment or instance role')
    .option('--access-key-id <id>', 's3/r2: access key ID (or $POOF_ACCESS_KEY_ID)')
    .option('--account-id <id>', 'r2: Cloudflare account ID')
    .option('--account <id>', 'b2: application key ID')
    .option('--host <host>', 'sftp: server host')
    .option('--port <port>', 'sftp: server port (default 22)')
    .option('--user <user>', 'sftp/webdav: user name')
    .option('--key-file <file>', 'sftp: private key file (instead of a password)')
    .option('--known-hosts <file>', 'sftp: known_hosts file used to check the server key')
    .addOption(new Option('--shell-type <type>', 'sftp: remote shell').choices(['unix', 'powershell', 'cmd', 'none'] as const))
    .option('--url <url>', 'webdav: server URL')
    .option('--vendor <vendor>', 'webdav: other, nextcloud, owncloud, sharepoint, sharepoint-ntlm')
    .option('--secret-stdin', 'read the password or secret key from standard input')
    .option('--crypt', 'add zero-knowledge encryption: a crypt remote over this storage (alone: over the storage already set up)')
    .option('--passphrase-stdin', 'crypt: use the passphrase on standard input instead of a generated key (or $POOF_CRYPT_PASSPHRASE)')
    .option('--ask-passphrase', 'crypt: ask for the passphrase on the terminal instead of generating a key')
    .option('--replace-keys', 'crypt, with --force: replace keys that still decrypt data on the remote (the old file is kept)')
    .option('--force', 'replace an existing remote section without asking')
    .option('--encrypt-config', 'encrypt rclone-poof.conf with rclone\'s config encryption, its password kept in the OS keychain (or taken from $RCLONE_CONFIG_PASS)')
    .option('--decrypt-config', 'store rclone-poof.conf unencrypted again and remove its password from the keychain')
    .option('--append-only-help', 'print how to give this machine a key that can only add files, for the storage set up (see "mode": "append-only")')
    .addHelpText(
      'after',
      `${examples([
        'poof cconfig --provider local --root /mnt/backup-disk/poof',
        'POOF_SECRET=... poof cconfig --provider s3 --region eu-west-1 --access-key-id AKIA...',
        'poof cconfig --provider s3 --endpoint https://s3.example.com --access-key-id ID --secret-stdin < secret.txt',
        'poof cconfig --provider sftp --host nas.local --user joe --key-file ~/.ssh/id_ed25519',
        'poof cconfig --provider local --crypt                 # encrypted, with a generated key',
        'poof cconfig --crypt                                  # encrypt the storage already set up',
        'poof cconfig --encrypt-config                         # keep the keys in rclone-poof.conf encrypted at rest',
      ])}\nSecrets (secret keys, passwords) are never taken from the command line, where other users\ncould read them: poof asks on a terminal, or reads $POOF_SECRET, or standard input with --secret-stdin.\n`,
    );

export const syncSpec = () =>
  new Command('sync')
    .description('keep the two-way mappings ("sync" in poof.conf) in step both ways with rclone bisync')
    .option('--only <name>', 'sync only the two-way mapping with this remote name (repeatable)', collect)
    .option('--resync', 'join both sides (the first sync, or after bisync lost track): files on one side only are copied over; a file that differs keeps both copies')
    .option('--max-delete <percent>', 'the largest share of a mapping\'s files one run may delete on either side (default: "syncMaxDelete" in poof.conf, else 10)')
    .option('--dry-run', 'show what would change; change nothing')
    .addHelpText(
      'after',
      examples(['poof sync --resync                 # the first time', 'poof sync', 'poof sync --only Projects --max-delete 50']),
    );

export const watchSpec = () =>
  new Command('watch')
    .description('watch the mapped directories and copy each change seconds after it is saved; deletions and renames follow with a full backup at a calm moment and periodically (poof.conf "watch")')
    .option('--only <name>', 'watch only the mapping with this remote name (repeatable)', collect)
    .option('-q, --quiet', 'print only problems')
    .addHelpText(
      'after',
      examples(['poof watch                          # until Ctrl-C', 'poof watch --only Documents', 'poof schedule install --command watch   # as a service, started at login']),
    );

export const verifySpec = () =>
  new Command('verify')
    .description('check rclone, both config files, the mapped directories and the remote')
    .option('--json', 'print one JSON object: {ok, checks}')
    .option('--offline', 'skip the check that contacts the remote')
    .addHelpText('after', examples(['poof verify', 'poof verify --json | jq .ok']));

export const pathsSpec = () =>
  new Command('paths')
    .description('show every file poof uses')
    .option('--json', 'print one JSON object')
    .addHelpText('after', examples(['poof paths', 'poof --confdir /tmp/poof-test paths --json']));

export const backupSpec = () =>
  new Command('backup')
    .description('copy each mapped directory to the remote (a mirror: remote files deleted locally are removed)')
    .option('--only <name>', 'back up only the mapping with this remote name (repeatable)', collect)
    .option('--ignore-unfinished-restore', 'copy a directory whose last restore did not finish (normally refused)')
    .option('--dry-run', 'show what would be copied and deleted; change nothing')
    .option('--json', 'print one JSON result object')
    .option('-q, --quiet', 'print only errors')
    .addHelpText('after', examples(['poof backup', 'poof backup --only Documents --dry-run']));

export const cryptoggleSpec = () =>
  new Command('cryptoggle')
    .description('switch poof.conf between the plain remote and its crypt (zero-knowledge) remote')
    .option('--offline', 'do not look at the remote to warn about an empty side')
    .addHelpText('after', `${examples(['poof cryptoggle'])}\nThe plain and encrypted copies are separate trees: switching moves, copies and deletes nothing.\n`);

export const statusSpec = () =>
  new Command('status')
    .description('show the last runs from the history')
    .option('--last <n>', 'how many runs (default 10)')
    .option('--json', 'print {runs: [...]}')
    .addHelpText('after', examples(['poof status', 'poof status --last 1 --json']));

export const keyExportSpec = () =>
  new Command('export')
    .argument('<file>')
    .description('write the crypt keys (in the clear), the layout and a restore how-to to FILE (mode 600)')
    .option('--force', 'replace an existing FILE')
    .addHelpText('after', `${examples(['poof key export ~/poof-recovery-kit.txt'])}\nLosing the keys loses the data: keep this file offline, away from the computer.\n`);

export const keyImportSpec = () =>
  new Command('import')
    .argument('<file>')
    .description('add the crypt remote from a recovery kit to rclone-poof.conf and switch to it')
    .option('--force', 'replace an existing crypt section (the old file is kept beside it)')
    .option('--replace-keys', 'with --force: replace keys that still decrypt data on the remote')
    .addHelpText('after', examples(['poof key import ~/poof-recovery-kit.txt']));

export const scheduleInstallSpec = () =>
  new Command('install')
    .description('install a schedule that runs poof backup (or upload) with absolute paths, logging to the state dir')
    .addOption(kindOption())
    .option('--every <interval>', 'every N minutes or hours: 5m, 10m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h')
    .option('--at <HH:MM>', 'once a day at this time')
    .addOption(new Option('--command <command>', 'what to run (watch: kept running as a service instead of timed)').choices(['backup', 'upload', 'check', 'sync', 'watch'] as const).default('backup'))
    .option('--print', 'write the file that would be installed to stdout (its destination to stderr); install nothing')
    .addOption(new Option('--unit <unit>', 'with --kind systemd --print: which unit file to print').choices(['service', 'timer'] as const))
    .addHelpText('after', `${examples(['poof schedule install --every 6h', 'poof schedule install --kind systemd --at 02:30 --print --unit timer', 'poof schedule install --kind launchd --at 02:30 --print > poof.plist', 'poof schedule install --command upload --every 24h   # runs upload --yes', 'poof schedule install --command watch                # systemd user service / LaunchAgent'])}\nA scheduled run never prompts: it runs without a terminal, fails with a non-zero exit and a\nclear line in the log instead. systemd timers use Persistent=true: a run missed while the\nmachine slept or was off happens at the next start.\n`);

export const scheduleRemoveSpec = () =>
  new Command('remove')
    .description("remove poof's schedule and watch service for this config (other entries are kept)")
    .addOption(kindOption())
    .addHelpText('after', examples(['poof schedule remove                 # every kind an install here could have used', 'poof schedule remove --kind systemd']));

export const scheduleStatusSpec = () =>
  new Command('status')
    .description('show whether a schedule or watch service is installed, when it runs next, and the last run')
    .addOption(kindOption())
    .addHelpText('after', examples(['poof schedule status', 'poof schedule status --kind cron']));

export const uploadSpec = () =>
  new Command('upload')
    .description('copy each mapped directory to the remote, prove every file is there, then wipe the local copy')
    .option('--only <name>', 'upload only the mapping with this remote name (repeatable)', collect)
    .addOption(new Option('--wipe <mode>', 'how proven local files go: trash (default), delete, shred').choices(['trash', 'delete', 'shred'] as const))
    .option('-y, --yes', 'do not ask before wiping (needed without a terminal)')
    .option('--force', 'also wipe a mapped directory that is a mount point')
    .option('--ignore-unfinished-restore', 'copy a directory whose last restore did not finish (normally refused)')
    .option('--dry-run', 'show what would be copied and which files are already proven; change nothing')
    .option('--json', 'print one JSON result object')
    .option('-q, --quiet', 'print only errors')
    .addHelpText(
      'after',
      `${examples(['poof upload --dry-run', 'poof upload --only Archive', 'poof upload --yes --wipe delete   # unattended, permanent'])}
A local file is wiped only after the copy succeeded and the file was proven identical on the
remote (by hash, by cryptcheck for encrypted remotes, else by downloading it), and only if it
did not change after the proof began. Everything else stays and is listed.
`,
    );

/** The options download and restore share: where, how safely, how it reports. */
const restoreOptions = <Args extends unknown[], Opts extends OptionValues>(command: Command<Args, Opts>) =>
  command
    .option('--only <name>', 'restore only the mapping with this remote name (repeatable)', collect)
    .option('--to <dir>', 'restore into DIR/NAME instead of each mapped directory')
    .option('--keep-dir <dir>', 'move replaced or deleted local files into DIR instead of the trash')
    .option('-y, --yes', 'do not ask before replacing or deleting local files (needed without a terminal)')
    .option('--dry-run', 'show what would be restored, replaced and deleted; change nothing')
    .option('--json', 'print one JSON result object')
    .option('-q, --quiet', 'print only errors');

export const downloadSpec = () =>
  restoreOptions(new Command('download').description('restore each mapped directory from the remote; local files it replaces or deletes go to the trash first'))
    .addHelpText(
      'after',
      `${examples(['poof download --dry-run', 'poof download --only Documents', 'poof download --to /tmp/restore   # a side-by-side copy; nothing local is replaced'])}
Before it changes anything, download lists every local file it would replace or delete,
asks on a terminal (or needs --yes), and moves those files to the trash first.
A remote copy that is missing or empty is never restored (that would delete the local files).
`,
    );

export const historySpec = () =>
  new Command('history')
    .description('the past runs kept on the remote, per mapping: when, what changed, what is kept')
    .option('--only <name>', 'only this mapping (repeatable)', collect)
    .option('--json', 'print {mappings: [{name, runs: [...]}]}')
    .addHelpText(
      'after',
      `${examples(['poof history', 'poof history --only Documents --json'])}
Run ids are UTC times (20261202T151233Z). Each run's folder on the remote,
.poof-history/<run id>/<NAME>/, holds what that run replaced or deleted; <NAME>.run.json.gz
beside it lists every file the mapping held after the run.
`,
    );

export const versionsSpec = () =>
  new Command('versions')
    .argument('<path>', 'a file in a mapped directory (or NAME/path inside the mapping)')
    .description('every kept version of one file, newest first')
    .option('--json', 'print {mapping, path, versions: [...]}')
    .addHelpText('after', examples(['poof versions ~/Documents/report.odt', 'poof versions Documents/report.odt --json']));

export const restoreSpec = () =>
  restoreOptions(
    new Command('restore')
      .argument('[paths...]', 'only these files or directories (in a mapped directory, or NAME/path)')
      .description('restore the mapped directories (or just PATHs) as they were after a past run; local files it replaces or deletes go to the trash first')
      .requiredOption('--at <when>', 'the run: its id (poof history), a date 2026-11-20, a local time 2026-11-20T14:00, or an age such as 3d'),
  )
    .addHelpText(
      'after',
      `${examples([
        'poof history                                        # the runs kept',
        'poof restore --at 3d --to /tmp/three-days-ago        # everything, as three days ago, beside your files',
        'poof restore --at 2026-11-20 ~/Documents/report.odt  # one file, as after the last run that day',
        'poof restore --at 20261120T130000Z --only Documents --dry-run',
      ])}
--at picks the last complete run at or before WHEN (by when it started; a date alone means the
end of that day, local time); a run that did not finish is used only when named by its id.
Files the run did not have are removed (to the trash, after asking), files it had are brought
back as it left them. The remote is read only: the mirror and every kept run stay as they are.
`,
    );

export const pruneSpec = () =>
  new Command('prune')
    .description('remove the kept versions no kept run needs, by poof.conf\'s "keep" (also done after each backup that changed something)')
    .option('--only <name>', 'only this mapping (repeatable)', collect)
    .option('--dry-run', 'show what would be removed and the space it frees; change nothing')
    .option('--remote <name>', 'append-only: the remote with a key that can delete (default: "pruneRemote" in poof.conf)')
    .option('--json', 'print {ok, dryRun, mappings: [...]}')
    .addHelpText(
      'after',
      `${examples(['poof prune --dry-run', 'poof prune'])}
"keep" in poof.conf: {"last": N, "daily": N, "weekly": N, "monthly": N, "within": "30d"}
(default: last 10, daily 14, weekly 8, monthly 12). The newest run is always kept; a prune
never touches the mirror, and removes only versions that no kept run needs.
Append-only ("mode": "append-only"): runs older than "within" (counted back from now), then the
objects no kept run names, with the remote of "pruneRemote" or --remote, never the backup's own.
`,
    );

export const checkSpec = () =>
  new Command('check')
    .description('a restore drill: read files of a run back from the remote and compare them with its record and the local files')
    .option('--only <name>', 'only this mapping (repeatable)', collect)
    .option('--sample <percent>', 'read back this share of the files, chosen at random each time (default 3, at least 5 files)')
    .option('--full', 'read back every file of the run')
    .option('--at <when>', 'the run to check (as for restore --at; default: the newest)')
    .option('--json', 'print {ok, mappings: [...]}')
    .addHelpText(
      'after',
      `${examples(['poof check', 'poof check --full --only Documents', 'poof check --at 3d --sample 10', 'poof schedule install --command check --every 24h'])}
Each file read back must be on the remote with the size the run recorded; where the local file
has not changed since, it must match it byte for byte. Exit 4 when anything is missing or differs.
`,
    );
