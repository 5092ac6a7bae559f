/**
 * Pure template rendering: `{{name}}` must be given; a line holding `{{name?}}` is dropped when
 * `name` is unset or empty. `escape` applies the target format's rules to every value.
 */
export class TemplateError extends Error {}

export type Escape = (value: string, name: string) => string;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*)(\?)?\s*\}\}/g;

export function renderTemplate(
  template: string,
  vars: Record<string, string | undefined>,
  escape: Escape = (v) => v,
): string {
  const out: string[] = [];
  for (const line of template.split('\n')) {
    let drop = false;
    const rendered = line.replace(PLACEHOLDER, (_match, name: string, optional: string | undefined) => {
      const value = vars[name];
      if (value === undefined || value === '') {
        if (optional) {
          drop = true;
          return '';
        }
        throw new TemplateError(`template value "${name}" is missing`);
      }
      return escape(value, name);
    });
    if (!drop) out.push(rendered);
  }
  return out.join('\n');
}

/** rclone config values are single lines; surrounding spaces would be trimmed away by rclone. */
export const escapeRcloneValue: Escape = (value, name) => {
  if (/[\r\n\u0000]/.test(value)) throw new TemplateError(`${name} must be a single line`);
  if (value !== value.trim()) throw new TemplateError(`${name} must not start or end with spaces`);
  return value;
};
