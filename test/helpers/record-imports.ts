// Loaded with `node --import` to learn which modules a CLI run imports.
import { register } from 'node:module';

register('./import-hooks.js', import.meta.url);
