import { readFileSync } from 'node:fs';

/** The bridge package's version, read once from its package.json (which npm ships with every install). */
export const BRIDGE_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
