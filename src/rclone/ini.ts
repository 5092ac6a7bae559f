/** Pure reading and editing of rclone's config format (INI: [section], key = value). */

export interface RcloneSection {
  name: string;
  values: Record<string, string>;
  /** 1-based line of the [section] header. */
  line: number;
}

export interface ParsedRcloneConf {
  sections: RcloneSection[];
  errors: string[];
}

const HEADER = /^\s*\[([^\]]*)\]\s*$/;
const COMMENT = /^\s*([#;].*)?$/;

export function parseRcloneConf(text: string): ParsedRcloneConf {
  const sections: RcloneSection[] = [];
  const errors: string[] = [];
  let current: RcloneSection | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    if (COMMENT.test(raw)) return;
    const header = HEADER.exec(raw);
    if (header) {
      const name = (header[1] ?? '').trim();
      if (name === '') errors.push(`line ${line}: empty section name "[]"`);
      if (sections.some((s) => s.name === name)) errors.push(`line ${line}: section [${name}] appears twice`);
      current = { name, values: {}, line };
      sections.push(current);
      return;
    }
    const eq = raw.indexOf('=');
    if (eq < 0) {
      errors.push(`line ${line}: expected "key = value" or "[section]"`);
      return;
    }
    if (!current) {
      errors.push(`line ${line}: "${raw.slice(0, eq).trim()}" is outside any [section]`);
      return;
    }
    current.values[raw.slice(0, eq).trim()] = raw.slice(eq + 1).trim();
  });
  return { sections, errors };
}

export function findSection(conf: ParsedRcloneConf, name: string): RcloneSection | undefined {
  return conf.sections.find((s) => s.name === name);
}

/**
 * Replace the [name] section of `text` with `sectionText`, or append it. Every other line
 * (other remotes, comments) is kept as it was.
 */
export function upsertSection(text: string, name: string, sectionText: string): string {
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const block = sectionText.replace(/\n+$/, '').split('\n');
  const start = lines.findIndex((l) => HEADER.exec(l)?.[1]?.trim() === name);
  if (start < 0) {
    const trimmed = [...lines];
    while (trimmed.length > 0 && trimmed[trimmed.length - 1]?.trim() === '') trimmed.pop();
    return `${[...trimmed, ...(trimmed.length > 0 ? [''] : []), ...block].join('\n')}\n`;
  }
  let end = start + 1;
  while (end < lines.length && !HEADER.test(lines[end] ?? '')) end++;
  // Keep the blank lines that separated this section from the next one.
  let keepFrom = end;
  while (keepFrom > start + 1 && (lines[keepFrom - 1] ?? '').trim() === '') keepFrom--;
  const out = [...lines.slice(0, start), ...block, ...lines.slice(keepFrom)];
  return `${out.join('\n')}\n`;
}

// Values the original poof wrote as scaffolding, and other obvious stand-ins.
const PLACEHOLDER = /^(BOGUS.*|.*USE[-_ ]?YOURS.*|changeme|change[-_]me|x{3,}|your[-_ ].*|<[^>]*>|todo|placeholder)$/i;

/** Keys of a section whose value is a placeholder instead of a real credential. */
export function findPlaceholders(section: RcloneSection): string[] {
  return Object.entries(section.values)
    .filter(([, value]) => PLACEHOLDER.test(value))
    .map(([key]) => key);
}
