import { readFileSync } from 'node:fs';

/** The client package's version, read once from its package.json (which npm ships with every install). */
export const CLIENT_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
