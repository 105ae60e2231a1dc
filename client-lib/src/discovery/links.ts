import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { BlockList } from 'node:net';
import { networkInterfaces } from 'node:os';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';
import makeMdns from 'multicast-dns';
import { MDNS_MAX_PACKET_BYTES, MDNS_PORT } from '@spyder-remote/protocol';

const MDNS_IPV4_GROUP = '224.0.0.251';

export interface LinkAddress {
	readonly name: string;
	readonly address: string;
	readonly subnet: string;
}

/**
 * The IPv4 interfaces to browse on: every one (loopback too, where a local
 * server may announce) or those named by `selection` (names or addresses).
 */
export function browseAddresses(selection?: readonly string[]): LinkAddress[] {
	const links: LinkAddress[] = [];
	for (const [name, entries = []] of Object.entries(networkInterfaces())) {
		const entry = entries.find((candidate) => candidate.family === 'IPv4' && (!selection || selection.includes(name) || selection.includes(candidate.address)));
		if (entry) links.push({ name, address: entry.address, subnet: entry.cidr ?? `${entry.address}/32` });
	}
	return links;
}

export type PacketHandler = (packet: DecodedPacket, source: RemoteInfo) => void;

function onLinkFilter(subnet: string): (address: string) => boolean {
	const list = new BlockList();
	const [address, prefix] = subnet.split('/');
	list.addSubnet(address!, Number(prefix), 'ipv4');
	return (candidate) => {
		try {
			return list.check(candidate, 'ipv4');
		} catch {
			return false;
		}
	};
}

/**
 * A querier on one interface: a multicast-dns socket on port 5353 for
 * announcements, goodbyes and multicast answers, and a socket on a port of
 * its own for one-shot queries, which responders answer by unicast at once
 * (RFC 6762 §6.7) instead of after the 20–120 ms that multicast answers wait.
 */
export class BrowseLink {
	private readonly mdns: makeMdns.MulticastDNS;
	private readonly oneShot: Socket;
	private readonly oneShotIds = new Set<number>();
	readonly ready: Promise<void>;

	constructor(
		readonly link: LinkAddress,
		private readonly handle: PacketHandler,
		warn: (error: Error) => void,
	) {
		const onLink = onLinkFilter(link.subnet);
		const accept = (packet: DecodedPacket, source: RemoteInfo) => {
			if (packet.type !== 'response' || source.port !== MDNS_PORT || source.size > MDNS_MAX_PACKET_BYTES || !onLink(source.address)) return;
			try {
				this.handle(packet, source);
			} catch (error) {
				warn(error as Error);
			}
		};
		// Bound to the wildcard and joined on the interface: a socket bound to the interface's address gets no multicast on Linux.
		this.mdns = makeMdns({ interface: link.address, bind: '0.0.0.0', reuseAddr: true, loopback: true });
		this.mdns.on('packet', accept);
		this.mdns.on('warning', warn);
		this.oneShot = createSocket({ type: 'udp4' });
		this.oneShot.on('error', warn);
		this.oneShot.on('message', (message, source) => {
			if (message.length > MDNS_MAX_PACKET_BYTES) return;
			let packet: DecodedPacket;
			try {
				packet = dnsPacket.decode(message);
			} catch {
				return;
			}
			// A unicast answer must carry the ID of a query we sent (RFC 6762 §6.7).
			if (packet.id === undefined || !this.oneShotIds.has(packet.id)) return;
			accept(packet, source);
		});
		const mdnsReady = new Promise<void>((resolve, reject) => {
			this.mdns.once('ready', () => resolve());
			this.mdns.once('error', reject);
		});
		// Without port 5353 (taken without SO_REUSEADDR, say) one-shot queries still work.
		this.mdns.on('error', warn);
		const oneShotReady = new Promise<void>((resolve) =>
			this.oneShot.bind({ port: 0, address: '0.0.0.0' }, () => {
				try {
					this.oneShot.setMulticastInterface(link.address);
				} catch (error) {
					warn(error as Error);
				}
				resolve();
			}),
		);
		this.ready = Promise.all([mdnsReady.catch(warn), oneShotReady]).then(() => undefined);
	}

	/** A multicast query from port 5353: answers come by multicast, to every querier. */
	query(packet: Packet): void {
		this.mdns.query({ ...packet, questions: packet.questions ?? [] });
	}

	/** A one-shot query from our own port: the fast first answer. */
	queryOnce(packet: Packet): void {
		const id = 1 + Math.floor(Math.random() * 0xfffe);
		this.oneShotIds.add(id);
		const message = dnsPacket.encode({ ...packet, type: 'query', id });
		this.oneShot.send(message, MDNS_PORT, MDNS_IPV4_GROUP, (error) => error && this.oneShot.emit('error', error));
	}

	close(): Promise<void> {
		return new Promise((resolve) => {
			this.oneShot.close();
			this.mdns.destroy(() => resolve());
		});
	}
}
