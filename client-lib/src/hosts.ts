import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clientConfigDir } from './paths.js';
import { DEFAULT_PORT } from './session.js';

export interface ConfiguredHost {
	readonly name: string;
	readonly host: string;
	readonly port: number;
}

export function hostsFile(): string {
	return join(clientConfigDir(), 'hosts');
}

/**
 * Servers that are not announced (another subnet, discovery off), from the
 * client config: one `NAME HOST[:PORT]` a line, `#` starts a comment. A
 * NAME then works wherever HOST[:PORT] does, like a Host alias in ssh_config.
 */
export async function configuredHosts(file = hostsFile()): Promise<ConfiguredHost[]> {
	const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
		if (error.code === 'ENOENT') return '';
		throw error;
	});
	const hosts: ConfiguredHost[] = [];
	for (const line of text.split('\n')) {
		const match = /^\s*([A-Za-z0-9._-]{1,64})\s+(?:\[([^\]\s]+)\]|([^\s:[\]]+))(?::(\d{1,5}))?\s*$/.exec(line.replace(/#.*/, ''));
		if (match) hosts.push({ name: match[1]!, host: (match[2] ?? match[3])!, port: match[4] ? Number(match[4]) : DEFAULT_PORT });
	}
	return hosts;
}
