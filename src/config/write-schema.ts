// `npm run schema`: write the schema for editors (schema/poof.schema.json); a unit test fails
// when the committed file and the schema in code differ.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../assets.js';
import { poofConfigSchema } from './schema.js';

const target = path.join(packageRoot, 'schema', 'poof.schema.json');
mkdirSync(path.dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(poofConfigSchema, null, 2)}\n`);
