import { isIPv4 } from 'node:net';
import type { RecordCache, SrvData } from './cache.js';

import { parseTxt, SERVICE_TYPE, type AnnouncedInfo } from '@spyder-remote/protocol';

export { SERVICE_TYPE };
/** A host announcing more addresses than this is either odd or hostile; the first ones are enough to connect. */
const MAX_ADDRESSES = 16;
/** A DNS label holds at most 63 bytes. */
const MAX_INSTANCE_BYTES = 63;

export interface ResolvedServer extends AnnouncedInfo {
	/** The instance name, e.g. `labserver` or `labserver (2)`. */
	readonly instanceName: string;
	/** The SRV target, e.g. `labserver-ssd-7446.local`. */
	readonly host: string;
	/** IPv4 first, then IPv6. */
	readonly addresses: readonly string[];
	readonly port: number;
}

/**
 * The instance label of a PTR target, if it is a name we would show: one
 * label of printable text. Control characters would reach terminals as escape
 * sequences, so such instances are not shown at all.
 */
function instanceLabel(target: string): string | undefined {
	const suffix = `.${SERVICE_TYPE}`;
	if (!target.toLowerCase().endsWith(suffix)) return undefined;
	const label = target.slice(0, -suffix.length);
	if (label.length === 0 || label.includes('.') || /\p{Cc}/u.test(label) || Buffer.byteLength(label) > MAX_INSTANCE_BYTES) return undefined;
	return label;
}

/** Every server the cache fully describes: PTR, SRV, a valid TXT and at least one address. Keyed by instance name, lower-case. */
export function resolveServers(cache: RecordCache): Map<string, ResolvedServer> {
	const servers = new Map<string, ResolvedServer>();
	for (const pointer of cache.lookup(SERVICE_TYPE, 'PTR')) {
		const fqdn = pointer.data as string;
		const instanceName = instanceLabel(fqdn);
		if (!instanceName || servers.has(instanceName.toLowerCase())) continue;
		const srv = cache.lookup(fqdn, 'SRV')[0]?.data as SrvData | undefined;
		const txt = cache.lookup(fqdn, 'TXT')[0]?.data as Buffer[] | undefined;
		const info = txt && parseTxt(txt);
		if (!srv || !info) continue;
		const addresses = [...cache.lookup(srv.target, 'A'), ...cache.lookup(srv.target, 'AAAA')]
			.map((record) => record.data as string)
			.sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a)) || a.localeCompare(b))
			.slice(0, MAX_ADDRESSES);
		if (addresses.length === 0) continue;
		servers.set(instanceName.toLowerCase(), { instanceName, host: srv.target, addresses, port: srv.port, ...info });
	}
	return servers;
}
