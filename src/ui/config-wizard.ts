import path from 'node:path';
import { applyConfigChanges, describeNameProblem } from '../config/edit.js';
import { resolveDir, type Where } from '../fs/paths.js';
import type { PoofConfig } from '../config/schema.js';
import { poofConfigSchema } from '../config/schema.js';
import { askCheckbox, askConfirm, askInput, askSelect } from './prompts.js';
import { isDirectory } from '../fs/probe.js';
import { readRcloneConf } from '../rclone/conf-file.js';
import type { ConfUnlock } from '../rclone/conf-password.js';

interface WizardOptions {
  where: Where;
  rcloneConf: string;
  unlock: ConfUnlock;
  existing: boolean;
}

const REMOTE_PATTERN = new RegExp(poofConfigSchema.properties.remote.pattern);

/** The interactive editor for poof.conf. Returns the new config, or undefined to write nothing. */
export async function runConfigWizard(start: PoofConfig, options: WizardOptions): Promise<PoofConfig | undefined> {
  let config = start;
  for (;;) {
    const mappings = Object.entries(config.paths);
    process.stdout.write(`\nremote: ${config.remote}   bucket: ${config.bucket}\n`);
    if (mappings.length === 0) process.stdout.write('no directories mapped yet\n');
    for (const [dir, name] of mappings) process.stdout.write(`  ${dir}  ->  ${name}\n`);
    const action = await askSelect({
      message: 'What next?',
      choices: [
        { name: 'Add a directory', value: 'add' },
        ...(mappings.length > 0 ? [{ name: 'Remove directories', value: 'remove' }] : []),
        { name: `Pick the remote (now ${config.remote})`, value: 'remote' },
        { name: 'Save and quit', value: 'save' },
        { name: 'Quit without saving', value: 'quit' },
      ],
    });
    if (action === 'quit') return undefined;
    if (action === 'save') {
      if (!options.existing) return config;
      return (await askConfirm({ message: 'Overwrite the existing poof.conf?', default: true })) ? config : undefined;
    }
    if (action === 'add') config = await addMapping(config, options.where);
    if (action === 'remove') {
      const drop = await askCheckbox({
        message: 'Remove which mappings? (the remote copies stay)',
        choices: mappings.map(([dir, name]) => ({ name: `${dir} -> ${name}`, value: dir })),
      });
      config = applyConfigChanges(config, { unmap: drop }, options.where).config;
    }
    if (action === 'remote') config = { ...config, remote: await pickRemote(config.remote, options.rcloneConf, options.unlock) };
  }
}

async function addMapping(config: PoofConfig, where: Where): Promise<PoofConfig> {
  const raw = await askInput({
    message: 'Local directory (full path; ~ works):',
    validate: async (value) => {
      if (value.trim() === '') return 'type a directory';
      return (await isDirectory(resolveDir(value.trim(), where))) ? true : 'no such directory';
    },
  });
  const dir = resolveDir(raw.trim(), where);
  const taken = new Set(Object.values(config.paths));
  const name = await askInput({
    message: 'Name of its copy on the remote:',
    default: path.basename(dir),
    validate: (value) => {
      const problem = describeNameProblem(value);
      if (problem !== undefined) return `the name ${problem}; use one name without "/"`;
      return taken.has(value) && config.paths[dir] !== value ? 'another directory already uses that name' : true;
    },
  });
  // Directory and name travel apart: joined with "=" a directory such as "a=b" would be split.
  return applyConfigChanges(config, { mappings: [{ dir, name }] }, where).config;
}

async function pickRemote(current: string, rcloneConf: string, unlock: ConfUnlock): Promise<string> {
  const sections = (await readRcloneConf(rcloneConf, unlock)).sections.map((s) => s.name);
  if (sections.length > 0) {
    const picked = await askSelect({
      message: 'Which remote of rclone-poof.conf?',
      choices: [...sections.map((name) => ({ name, value: name })), { name: 'Type another name', value: '' }],
      default: sections.includes(current) ? current : sections[0],
    });
    if (picked !== '') return picked;
  }
  return askInput({
    message: 'Remote name:',
    default: current,
    validate: (value) => (REMOTE_PATTERN.test(value) ? true : 'letters, digits, "_", "." and "-"'),
  });
}
