import { discover as startDiscovery, type DiscoveredServer } from '../../discovery.js';
import { configuredHosts, hostsFile } from '../../hosts.js';
import { hostKey } from '../../known-hosts.js';
import { UsageError, type Command } from '../command.js';

const DEFAULT_TIMEOUT_MS = 1000;

function describe(server: DiscoveredServer): string {
	const where = server.addresses.map((address) => hostKey(address, server.port)).join(' ');
	return `${server.instanceName}  ${where}  ${server.fingerprint} (${server.pinned ? 'pinned' : 'not pinned'})  auth ${server.authMethods.join(',')}  ${server.os}  server ${server.serverVersion}  protocol ${server.protocolVersion}`;
}

function parseTimeout(text: string | undefined): number | undefined {
	if (text === undefined) return undefined;
	if (!/^\d{1,9}$/.test(text)) throw new UsageError(`--timeout ${text} is not a number of milliseconds`);
	return Number(text);
}

export const discover: Command = {
	name: 'discover',
	summary: 'list the spyder-remote servers announced on the local network (mDNS/DNS-SD)',
	synopsis: '[--timeout MS] [--watch] [--interface NAME|ADDRESS]...',
	remote: false,
	options: {
		timeout: { type: 'string' },
		watch: { type: 'boolean', default: false },
		interface: { type: 'string', multiple: true },
	},
	async run({ values, print }) {
		const watch = values.watch === true;
		const timeoutMs = parseTimeout(values.timeout as string | undefined) ?? (watch ? undefined : DEFAULT_TIMEOUT_MS);
		const discovery = startDiscovery({ interfaces: values.interface as string[] | undefined });
		if (watch) {
			discovery.on('event', ({ type, server }) => print(`${type.padEnd(7)} ${describe(server)}`, { type, server }));
		}
		await new Promise<void>((resolve) => {
			if (timeoutMs !== undefined) setTimeout(resolve, timeoutMs);
			process.once('SIGINT', resolve);
			process.once('SIGTERM', resolve);
		});
		await discovery.close();
		if (watch) return;
		const servers = discovery.servers.sort((a, b) => a.instanceName.localeCompare(b.instanceName));
		const configured = await configuredHosts();
		const announced =
			servers.length === 0
				? `No spyder-remote server answered within ${timeoutMs} ms.`
				: `${servers.map(describe).join('\n')}\nFingerprints are as announced, which proves nothing: the certificate checked when you connect is what counts.`;
		const listed =
			configured.length === 0
				? ''
				: `\nConfigured in ${hostsFile()}:\n${configured.map((entry) => `${entry.name}  ${hostKey(entry.host, entry.port)}`).join('\n')}`;
		// JSON stays the announced servers alone: configured entries are the user's own file, not something found.
		print(`${announced}${listed}`, servers);
	},
};
