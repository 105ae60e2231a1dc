import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { clientConfigDir } from './paths.js';

/** `host:port`, with IPv6 literals bracketed, as it is written in known_hosts. */
export function hostKey(host: string, port: number): string {
	return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Pinned server certificates, like ssh's known_hosts: one `host:port
 * SHA256:fingerprint` a line. Written atomically, mode 0600.
 */
export class KnownHosts {
	constructor(readonly file: string = join(clientConfigDir(), 'known_hosts')) {}

	async lookup(host: string, port: number): Promise<string | undefined> {
		return (await this.read()).get(hostKey(host, port));
	}

	async pin(host: string, port: number, fingerprint: string): Promise<void> {
		const entries = await this.read();
		entries.set(hostKey(host, port), fingerprint);
		await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
		const temporary = `${this.file}.${process.pid}.tmp`;
		await writeFile(temporary, [...entries].map(([key, value]) => `${key} ${value}\n`).join(''), { mode: 0o600 });
		await rename(temporary, this.file);
	}

	async forget(host: string, port: number): Promise<boolean> {
		const entries = await this.read();
		if (!entries.delete(hostKey(host, port))) return false;
		await writeFile(this.file, [...entries].map(([key, value]) => `${key} ${value}\n`).join(''), { mode: 0o600 });
		return true;
	}

	private async read(): Promise<Map<string, string>> {
		let text = '';
		try {
			text = await readFile(this.file, 'utf8');
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
		}
		const entries = new Map<string, string>();
		for (const line of text.split('\n')) {
			const [key, fingerprint] = line.trim().split(/\s+/);
			if (key && fingerprint && !key.startsWith('#')) entries.set(key, fingerprint);
		}
		return entries;
	}
}
