import type { RemoteInfo } from 'node:dgram';
import type { DecodedPacket, Packet } from 'dns-packet';
import makeMdns from 'multicast-dns';
import { subnetFilter, type LinkDescription } from './interfaces.js';
import { MDNS_MAX_PACKET_BYTES, MDNS_PORT } from '@spyder-remote/protocol';

export interface Destination {
	readonly address: string;
	readonly port: number;
}

export interface LinkHandlers {
	/** A decoded packet from a sender on this link's subnets. */
	packet(packet: DecodedPacket, source: RemoteInfo): void;
	/** Socket trouble worth a log line; the link keeps going. */
	warning(error: Error): void;
}

/**
 * mDNS on one interface. Every socket bound to port 5353 sees the multicast
 * packets of every interface (Linux's IP_MULTICAST_ALL), so each link keeps
 * only packets whose source lies on its own subnets.
 */
export class MdnsLink {
	private readonly mdns: makeMdns.MulticastDNS;
	readonly ready: Promise<void>;

	constructor(
		readonly description: LinkDescription,
		handlers: LinkHandlers,
	) {
		const onLink = subnetFilter(description.subnets);
		// multicast-dns binds to its `interface` option unless told otherwise, and a socket bound to the
		// interface's address receives no multicast on Linux: bind to the wildcard, join on the interface.
		this.mdns = makeMdns({ interface: description.socketAddress, bind: '0.0.0.0', reuseAddr: true, loopback: true });
		this.ready = new Promise((resolve, reject) => {
			this.mdns.once('ready', () => resolve());
			this.mdns.once('error', reject);
		});
		// Failures also arrive as warnings; whoever opens the link awaits `ready` when it cares.
		this.ready.catch(() => undefined);
		this.mdns.on('error', (error: Error) => handlers.warning(error));
		this.mdns.on('warning', (error: Error) => handlers.warning(error));
		this.mdns.on('packet', (packet: DecodedPacket, source: RemoteInfo) => {
			if (source.size > MDNS_MAX_PACKET_BYTES || !onLink(source.address)) return;
			// RFC 6762 §6: responses must come from port 5353; anything else is spoofed or broken.
			if (packet.type === 'response' && source.port !== MDNS_PORT) return;
			try {
				handlers.packet(packet, source);
			} catch (error) {
				// A packet we failed to handle costs us that packet, never the responder.
				handlers.warning(error as Error);
			}
		});
	}

	/** Multicasts on this link, or unicasts to `destination`. Resolves once handed to the kernel; failures are warnings. */
	send(packet: Packet, destination?: Destination): Promise<Error | undefined> {
		return new Promise((resolve) => {
			const done = (error: Error | null) => resolve(error ?? undefined);
			try {
				if (packet.type === 'query') this.mdns.query(packet as makeMdns.QueryOutgoingPacket, destination ? { ...destination } : undefined, done);
				else this.mdns.respond(packet as makeMdns.ResponseOutgoingPacket, destination ? { ...destination } : undefined, done);
			} catch (error) {
				done(error as Error);
			}
		});
	}

	close(): Promise<void> {
		return new Promise((resolve) => this.mdns.destroy(() => resolve()));
	}
}
