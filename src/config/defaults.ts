import { CONFIG_VERSION, type PoofConfig } from './schema.js';

export const DEFAULT_REMOTE = 'poof-backup';

/**
 * Pure: the bucket name of the original poof, `poofbackup-<user>-<12 hex>`, made safe for S3
 * (lowercase letters, digits and hyphens, at most 63 characters).
 */
export function defaultBucket(user: string, hex12: string): string {
  const safeUser = user.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'user';
  const room = 63 - 'poofbackup-'.length - 1 - hex12.length;
  return `poofbackup-${safeUser.slice(0, room).replace(/-+$/, '')}-${hex12}`;
}

export interface DefaultConfigInput {
  user: string;
  hex12: string;
  poofConf: string;
  /** Mapped by default when it exists, as the original's README advises. */
  documentsDir?: string | undefined;
}

export function buildDefaultConfig(input: DefaultConfigInput): PoofConfig {
  return {
    version: CONFIG_VERSION,
    bucket: defaultBucket(input.user, input.hex12),
    confFile: input.poofConf,
    paths: input.documentsDir ? { [input.documentsDir]: 'Documents' } : {},
    remote: DEFAULT_REMOTE,
  };
}

/**
 * Pure: the text written to poof.conf. `$schema` and `version` lead, the other keys are sorted
 * as the original poof wrote them, so files stay diff-friendly across both tools.
 */
export function serializeConfig(config: PoofConfig, schemaRef: string): string {
  const { $schema: _ignored, version, ...rest } = config;
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
  return `${JSON.stringify({ $schema: schemaRef, version: version ?? CONFIG_VERSION, ...sorted }, null, 2)}\n`;
}
