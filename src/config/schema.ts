import type { FromSchema } from 'json-schema-to-ts';

/**
 * The one source of truth for poof.conf. The TypeScript type is derived from it, and
 * `npm run build` writes it to schema/poof.schema.json for editors. Each `description` doubles
 * as the "how to fix it" hint in validation messages, so write them as advice.
 */
export const poofConfigSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'poof.schema.json',
  title: 'poof.conf',
  description: 'Configuration of poof: which local directories are copied to which remote.',
  type: 'object',
  additionalProperties: false,
  required: ['bucket', 'paths', 'remote'],
  properties: {
    $schema: {
      type: 'string',
      description: 'Path or URL of this schema, used by editors for completion and checks.',
    },
    version: {
      type: 'integer',
      enum: [1],
      description: 'Version of this file layout; use 1 (files from the original poof have none).',
    },
    bucket: {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^(?!\\.{1,2}$)[^/\\\\\\u0000-\\u001f]+$',
      description:
        'Top-level directory (the bucket on S3-like remotes) that holds every mapping; a single name without "/", e.g. "poofbackup-joe-206ce7879351". S3 buckets need 3-63 lowercase letters, digits, dots or hyphens.',
    },
    confFile: {
      type: 'string',
      description: 'Informational: where this file lives. Written by poof; kept for compatibility with the original poof.',
    },
    paths: {
      type: 'object',
      description:
        'Mappings from an absolute local directory to a remote directory name, e.g. {"/Users/joe/Documents": "Documents"}.',
      propertyNames: {
        pattern: '^/',
        description: 'Use the full absolute path of the local directory (no ~ or $HOME), e.g. "/home/joe/Documents".',
      },
      additionalProperties: {
        type: 'string',
        minLength: 1,
        maxLength: 255,
        pattern: '^(?!\\.{1,2}$)(?!\\.poof-(history|vault|sync-kept)$)[^/\\\\\\u0000-\\u001f]+$',
        description: 'Name of the remote directory for this mapping: one name without "/", not ".poof-history", ".poof-vault" or ".poof-sync-kept" (where past versions are kept), e.g. "Documents".',
      },
    },
    remote: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.][A-Za-z0-9_.-]*$',
      maxLength: 64,
      description:
        'Name of the rclone remote (a [section] of rclone-poof.conf) to copy to: letters, digits, "_", "." and "-", e.g. "poof-backup".',
    },
    excludes: {
      type: 'array',
      uniqueItems: true,
      items: {
        type: 'string',
        minLength: 1,
        description: 'An rclone filter pattern, e.g. "*.tmp" or ".cache/**".',
      },
      description: 'rclone filter patterns of files never to copy, e.g. ["*.tmp", ".DS_Store", "node_modules/**"].',
    },
    symlinks: {
      type: 'string',
      enum: ['follow', 'links', 'skip'],
      description:
        'What to do with symbolic links: "follow" copies what they point to (the original poof, the default), "links" keeps them as links, "skip" ignores them.',
    },
    healthcheck: {
      type: 'string',
      pattern: '^https?://\\S+$',
      description:
        'A healthchecks.io-style ping URL for backup and upload runs: poof requests URL/start when a run starts, URL when it succeeds and URL/fail (with the exit code) when it fails, e.g. "https://hc-ping.com/<uuid>".',
    },
    hooks: {
      type: 'object',
      additionalProperties: false,
      description: 'Shell commands run around backup and upload runs (not dry runs), e.g. {"before": "mount /mnt/disk", "onFailure": "notify-send poof failed"}.',
      properties: {
        before: { type: 'string', minLength: 1, description: 'Run before; if it fails, the run does not start and exits 1.' },
        after: { type: 'string', minLength: 1, description: 'Run after every run, with POOF_EXIT_CODE set; a failure is reported, never hiding the run\'s own result.' },
        onFailure: { type: 'string', minLength: 1, description: 'Run after a failed run, with POOF_EXIT_CODE set.' },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'How long a hook may run before it is stopped (default 300).' },
      },
    },
    notify: {
      type: 'boolean',
      description:
        'Show a desktop notification when a backup or upload run without a terminal (cron, launchd, systemd) fails: true (the default) or false.',
    },
    staleAfterHours: {
      type: 'integer',
      minimum: 1,
      maximum: 8760,
      description:
        'Hours after a mapping\'s last successful backup or upload before `poof status` and `poof verify` warn that it is stale: a whole number from 1 to 8760 (default 48).',
    },
    history: {
      type: 'boolean',
      description:
        'Keep what each backup replaces or deletes on the remote, in .poof-history/<run id>/ beside the mapped directories, so any kept run can be restored (`poof history`, `poof restore --at`): true (the default) or false (a pure mirror).',
    },
    mode: {
      type: 'string',
      enum: ['mirror', 'append-only'],
      description:
        'How backups are stored: "mirror" (the default: a copy of each mapped directory, with what each run replaces kept in .poof-history) or "append-only" (each run only ever adds new objects to .poof-vault, never overwriting or deleting anything, so it works with a key that cannot delete; see "Append-only backups" in the README).',
    },
    sync: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', minLength: 1 },
      description:
        'Mappings (their remote names) kept in step both ways by `poof sync`: changes on either side flow to the other; `poof backup` leaves them to it, e.g. ["Projects"].',
    },
    syncMaxDelete: {
      type: 'integer',
      minimum: 1,
      maximum: 100,
      description: 'The largest share of a two-way mapping\'s files, in percent, that one `poof sync` may delete on either side before it stops and asks (default 10).',
    },
    watch: {
      type: 'object',
      additionalProperties: false,
      description: 'How `poof watch` batches changes, e.g. {"quietSeconds": 2, "maxDelaySeconds": 30, "fullSyncMinutes": 60}; leave out for those defaults.',
      properties: {
        quietSeconds: { type: 'integer', minimum: 1, maximum: 3600, description: 'Copy a mapping\'s changes once it has had no new change for this many seconds (default 2).' },
        maxDelaySeconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'Copy changes at the latest this many seconds after the first, even while more keep coming (default 30).' },
        calmSeconds: { type: 'integer', minimum: 1, maximum: 86400, description: 'After a deletion or rename, run the full backup of the mapping once it has had no change for this many seconds (default 60).' },
        fullSyncMinutes: { type: 'integer', minimum: 1, maximum: 10080, description: 'Run a full backup of every watched mapping at least this often, in minutes: deletions, renames and anything the watcher missed (default 60).' },
      },
    },
    pruneRemote: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.][A-Za-z0-9_.-]*$',
      maxLength: 64,
      description:
        'Append-only: the rclone remote (a [section] of rclone-poof.conf) with a key that can delete, used only by `poof prune` on a trusted machine, e.g. "poof-admin"; never the backup\'s own "remote".',
    },
    keep: {
      type: 'object',
      additionalProperties: false,
      description:
        'Which past runs stay restorable (applied after each successful backup and by `poof prune`), e.g. {"last": 10, "daily": 14, "weekly": 8, "monthly": 12, "within": "30d"}; leave out for those defaults (without "within").',
      properties: {
        last: { type: 'integer', minimum: 0, maximum: 100000, description: 'Keep the last N runs: a whole number, e.g. 10.' },
        daily: { type: 'integer', minimum: 0, maximum: 100000, description: 'Keep the newest run of each of the last N days with runs, e.g. 14.' },
        weekly: { type: 'integer', minimum: 0, maximum: 100000, description: 'Keep the newest run of each of the last N weeks with runs, e.g. 8.' },
        monthly: { type: 'integer', minimum: 0, maximum: 100000, description: 'Keep the newest run of each of the last N months with runs, e.g. 12.' },
        within: { type: 'string', pattern: '^[0-9]+[smhdw]$', description: 'Keep every run younger than this, counted from the newest (append-only: from now): a number and s, m, h, d or w, e.g. "30d".' },
      },
    },
    wipe: {
      type: 'string',
      enum: ['trash', 'delete', 'shred'],
      description:
        'How `poof upload` removes local files once they are proven on the remote: "trash" (the default, recoverable), "delete" (permanent) or "shred" (overwrite, then delete; best effort: SSDs and copy-on-write file systems keep old blocks).',
    },
    rclone: {
      type: 'object',
      additionalProperties: false,
      description: 'Tuning passed to rclone; leave out to use poof\'s measured defaults for the remote\'s type.',
      properties: {
        transfers: {
          type: 'integer',
          minimum: 1,
          maximum: 256,
          description: 'Files copied in parallel (rclone --transfers), a whole number from 1 to 256.',
        },
        checkers: {
          type: 'integer',
          minimum: 1,
          maximum: 256,
          description: 'Files compared in parallel (rclone --checkers), a whole number from 1 to 256.',
        },
        bwlimit: {
          type: 'string',
          pattern: '^\\S+$',
          description: 'Bandwidth limit (rclone --bwlimit), e.g. "10M" or "08:00,512k 19:00,off".',
        },
        checksum: {
          type: 'boolean',
          description: 'Compare files by hash instead of modification time (rclone --checksum): true or false.',
        },
        fastList: {
          type: 'boolean',
          description: 'List the remote recursively in one go (rclone --fast-list): true or false.',
        },
        hashCheck: {
          type: 'boolean',
          description: 'SFTP: after each file is sent, hash it on the server over SSH (rclone runs md5sum once per file; off by default, as each run starts a shell): true or false.',
        },
        stallSeconds: {
          type: 'integer',
          minimum: 5,
          maximum: 3600,
          description:
            'After a connection error, seconds without any progress before poof stops rclone and reports the remote as unreachable (default 30); rclone alone retries every remaining file for minutes.',
        },
        maxDelete: {
          type: 'integer',
          minimum: 0,
          description:
            'At most this many remote files a backup deletes; rclone deletes up to this many, then stops the run with exit 1 (rclone --max-delete).',
        },
        maxDeleteSize: {
          type: 'string',
          pattern: '^[0-9]+(\\.[0-9]+)?[kKMGTP]?$',
          description:
            'At most this much remote data a backup deletes, e.g. "10G"; rclone deletes up to this much, then stops the run with exit 1 (rclone --max-delete-size, rclone 1.62 or newer).',
        },
      },
    },
  },
} as const;

export type PoofConfig = FromSchema<typeof poofConfigSchema>;
export type RcloneTuning = NonNullable<PoofConfig['rclone']>;
export type SymlinkMode = NonNullable<PoofConfig['symlinks']>;
export type WipeSetting = NonNullable<PoofConfig['wipe']>;
export type KeepSetting = NonNullable<PoofConfig['keep']>;

export const CONFIG_VERSION = 1;
