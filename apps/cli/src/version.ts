import { readFileSync } from 'node:fs';

/** The CLI's version (from its package.json, one folder above dist/ or the bundle's bin/). */
export const RDC_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
