import { BlockList, isIPv4 } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

/** One network interface the responder announces on. */
export interface LinkDescription {
	readonly name: string;
	/** The interface's IPv4 address: mDNS runs over IPv4 multicast on it. */
	readonly socketAddress: string;
	/** `address/prefix` of every IPv4 subnet on the interface: packets from elsewhere are not from this link. */
	readonly subnets: readonly string[];
	/** The addresses the daemon serves on this interface, announced as A and AAAA records. */
	readonly served: readonly string[];
}

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

const isWildcard = (address: string) => address === '0.0.0.0' || address === '::';
/** fe80::/10 addresses need a zone to be usable, which DNS cannot carry. */
const isLinkLocalIPv6 = (address: string) => /^fe[89ab]/i.test(address);

function servedAddresses(entries: NetworkInterfaceInfo[], listenAddress: string, wanted: Set<string> | undefined): string[] {
	return entries
		.filter((entry) => !(entry.family === 'IPv6' && isLinkLocalIPv6(entry.address)))
		.filter((entry) => (isWildcard(listenAddress) ? listenAddress === '::' || entry.family === 'IPv4' : entry.address === listenAddress))
		.filter((entry) => !wanted || wanted.has(entry.address))
		.map((entry) => entry.address);
}

/**
 * The links to announce on. `selection` lists interface names or addresses
 * (unset: every non-internal interface). An address in it restricts its
 * interface to that address. Interfaces that serve nothing, or have no IPv4
 * address to run mDNS on, are left out.
 */
export function describeLinks(interfaces: Interfaces, listenAddress: string, selection?: readonly string[]): LinkDescription[] {
	const links: LinkDescription[] = [];
	for (const [name, entries = []] of Object.entries(interfaces)) {
		const selectedByName = selection?.includes(name) ?? !entries.some((entry) => entry.internal);
		const selectedAddresses = new Set(entries.filter((entry) => selection?.includes(entry.address)).map((entry) => entry.address));
		if (!selectedByName && selectedAddresses.size === 0) continue;
		const ipv4 = entries.filter((entry) => entry.family === 'IPv4');
		if (ipv4.length === 0) continue;
		const served = servedAddresses(entries, listenAddress, selectedByName ? undefined : selectedAddresses);
		if (served.length === 0) continue;
		links.push({
			name,
			socketAddress: (ipv4.find((entry) => served.includes(entry.address)) ?? ipv4[0]!).address,
			subnets: ipv4.map((entry) => entry.cidr ?? `${entry.address}/32`),
			served,
		});
	}
	return links;
}

/** Whether a packet's source address lies on one of the link's subnets. */
export function subnetFilter(subnets: readonly string[]): (address: string) => boolean {
	const list = new BlockList();
	for (const subnet of subnets) {
		const [address, prefix] = subnet.split('/');
		list.addSubnet(address!, Number(prefix), 'ipv4');
	}
	return (address) => isIPv4(address) && list.check(address, 'ipv4');
}

export const sameLinks = (a: readonly LinkDescription[], b: readonly LinkDescription[]) => JSON.stringify(a) === JSON.stringify(b);
