import { isInside, normalizeDir } from '../fs/paths.js';
import type { ErrorObject } from 'ajv';
import validatePoofConfig from './validator.generated.js';
import type { PoofConfig } from './schema.js';

/** One problem in poof.conf: which field, what is wrong, how to fix it. */
export interface ConfigIssue {
  field: string;
  message: string;
  hint?: string;
}

export interface ValidationResult {
  config?: PoofConfig;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** Pure: parse the text of poof.conf. JSON errors name the line and column. */
export function parseConfigText(text: string): { data?: unknown; errors: ConfigIssue[] } {
  try {
    return { data: JSON.parse(text) as unknown, errors: [] };
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    const where = position ? ` at ${lineAndColumn(text, Number(position[1]))}` : '';
    return {
      errors: [
        {
          field: '(file)',
          message: `is not valid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/s, '')}`,
          hint: 'correct the JSON syntax (a missing comma or quote, or a trailing comma) or rewrite it with `poof config --force`',
        },
      ],
    };
  }
}

/**
 * Pure: check parsed poof.conf data against the schema and the rules a schema cannot express
 * (two mappings sharing a remote name would overwrite each other's copy).
 */
export function validateConfig(data: unknown): ValidationResult {
  const validate = validatePoofConfig;
  if (!validate(data)) {
    return { errors: describeSchemaErrors(validate.errors ?? []), warnings: [] };
  }
  const config = data as PoofConfig;
  const { errors, warnings } = checkMappings(config.paths);
  errors.push(...checkMode(config), ...checkSync(config));
  return errors.length > 0 ? { errors, warnings } : { config, errors, warnings };
}

/** One line per issue, e.g. `poof.conf: paths["x"]: is not an absolute path; fix: ...`. */
export function formatIssue(issue: ConfigIssue, file = 'poof.conf'): string {
  const field = issue.field === '(file)' ? '' : ` ${issue.field}`;
  return `${file}:${field} ${issue.message}${issue.hint ? ` (fix: ${issue.hint})` : ''}`;
}

function describeSchemaErrors(errors: ErrorObject[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    // A bad key under propertyNames yields two errors (the inner pattern and propertyNames):
    // report it once, from the outer one, which names the key.
    if ((error as ErrorObject & { propertyName?: string }).propertyName !== undefined) continue;
    const issue = describeSchemaError(error);
    const key = `${issue.field}\u0000${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

function describeSchemaError(error: ErrorObject): ConfigIssue {
  const segments = pointerSegments(error.instancePath);
  const parent = error.parentSchema as { description?: string; properties?: Record<string, { description?: string }> };
  const hint = parent?.description;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required': {
      const missing = String(params.missingProperty);
      return {
        field: formatField([...segments, missing]),
        message: 'is missing',
        hint: parent?.properties?.[missing]?.description ?? `add "${missing}"`,
      };
    }
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      const known = Object.keys(parent?.properties ?? {}).filter((name) => name !== '$schema');
      return {
        field: formatField([...segments, extra]),
        message: 'is not a known field',
        hint: `remove it or check its spelling; known fields: ${known.join(', ')}`,
      };
    }
    case 'propertyNames': {
      const name = String(params.propertyName);
      const inner = (error.schema as { description?: string } | undefined)?.description;
      return {
        field: formatField([...segments, name]),
        message: 'is not an absolute path',
        ...(inner ? { hint: inner } : {}),
      };
    }
    case 'type':
      return withHint({ field: formatField(segments), message: `must be ${article(String(params.type))}` }, hint);
    case 'enum':
      return withHint(
        {
          field: formatField(segments),
          message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
        },
        hint,
      );
    case 'pattern':
    case 'minLength':
    case 'maxLength':
      return withHint(
        { field: formatField(segments), message: `has an invalid value ${JSON.stringify(error.data)}` },
        hint,
      );
    default:
      return withHint({ field: formatField(segments), message: error.message ?? 'is invalid' }, hint);
  }
}

function withHint(issue: ConfigIssue, hint: string | undefined): ConfigIssue {
  return hint ? { ...issue, hint } : issue;
}

function article(type: string): string {
  const noun = { string: 'text', integer: 'a whole number', number: 'a number', boolean: 'true or false', object: 'an object {...}', array: 'a list [...]' }[type];
  if (!noun) return `of type ${type}`;
  return noun === 'text' ? 'text in quotes' : noun;
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** ['paths', '/home/x'] -> paths["/home/x"]; ['rclone', 'transfers'] -> rclone.transfers. */
export function formatField(segments: string[]): string {
  if (segments.length === 0) return '(top level)';
  let out = '';
  segments.forEach((segment, index) => {
    // Keys under "paths" are directories: always show them quoted.
    const quoted = index > 0 && segments[index - 1] === 'paths';
    if (quoted) out += `[${JSON.stringify(segment)}]`;
    else if (/^\d+$/.test(segment)) out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  });
  return out;
}

/** Pure: two-way mappings must be mappings, and cannot be in an append-only backup. */
function checkSync(config: PoofConfig): ConfigIssue[] {
  const names = new Set(Object.values(config.paths));
  const issues: ConfigIssue[] = [];
  (config.sync ?? []).forEach((name, index) => {
    if (!names.has(name)) issues.push({ field: `sync[${index}]`, message: `names "${name}", which no mapping in "paths" has`, hint: `use a mapping's remote name: ${[...names].map((n) => `"${n}"`).join(', ') || 'map a directory first'}` });
  });
  if (config.mode === 'append-only' && (config.sync ?? []).length > 0) {
    issues.push({ field: 'sync', message: 'names two-way mappings, but an append-only backup never deletes or replaces anything on the remote', hint: 'remove "sync", or use "mode": "mirror"' });
  }
  return issues;
}

/** Pure: what append-only mode cannot do (yet): links kept as links, and history switched off. */
function checkMode(config: PoofConfig): ConfigIssue[] {
  if (config.mode !== 'append-only') return [];
  const issues: ConfigIssue[] = [];
  if (config.symlinks === 'links') issues.push({ field: 'symlinks', message: 'is "links", which append-only mode does not keep', hint: 'use "follow" (the default) or "skip" with "mode": "append-only"' });
  if (config.history === false) issues.push({ field: 'history', message: 'is false, but an append-only backup keeps every run', hint: 'remove "history", or use "mode": "mirror" for a pure mirror' });
  // A writer can add runs (malware on the laptop): counted rules would let fake runs push real ones out.
  for (const rule of Object.keys(config.keep ?? {}).filter((key) => key !== 'within')) {
    issues.push({ field: `keep.${rule}`, message: 'counts runs, which an append-only backup does not use: fake runs added by malware would push real ones out', hint: 'keep runs by age only: "keep": {"within": "90d"}' });
  }
  return issues;
}

function checkMappings(paths: Record<string, string>): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const byName = new Map<string, string>();
  const byFoldedName = new Map<string, string>();
  const byDir = new Map<string, string>();
  for (const [localDir, name] of Object.entries(paths)) {
    const field = formatField(['paths', localDir]);
    const otherWithName = byName.get(name);
    if (otherWithName !== undefined) {
      errors.push({
        field,
        message: `maps to "${name}", as does ${JSON.stringify(otherWithName)}; their copies would overwrite each other`,
        hint: 'give each mapping its own remote name',
      });
    } else {
      const folded = byFoldedName.get(name.toLowerCase());
      if (folded !== undefined) {
        warnings.push({
          field,
          message: `remote name "${name}" differs only in case from the one of ${JSON.stringify(folded)}`,
          hint: 'rename one: case-insensitive remotes would mix the two copies',
        });
      }
    }
    byName.set(name, localDir);
    byFoldedName.set(name.toLowerCase(), localDir);

    const normal = normalizeDir(localDir);
    const sameDir = byDir.get(normal);
    if (sameDir !== undefined) {
      errors.push({
        field,
        message: `is the same directory as ${JSON.stringify(sameDir)}`,
        hint: 'keep one mapping per directory',
      });
    }
    byDir.set(normal, localDir);
  }
  const dirs = [...byDir.keys()];
  for (const inner of dirs) {
    for (const outer of dirs) {
      if (inner !== outer && isInside(inner, outer)) {
        warnings.push({
          field: formatField(['paths', byDir.get(inner) ?? inner]),
          message: `is inside the mapped directory ${JSON.stringify(byDir.get(outer))}, so its files are copied twice`,
          hint: 'remove one of the two mappings unless the second copy is intended',
        });
      }
    }
  }
  return { errors, warnings };
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}
