import { EventEmitter } from 'node:events';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { RecordCache } from './discovery/cache.js';
import { BrowseLink, browseAddresses } from './discovery/links.js';
import { resolveServers, SERVICE_TYPE, type ResolvedServer } from './discovery/servers.js';
import { KnownHosts } from './known-hosts.js';

/** RFC 6762 §5.2: the first repeat after one second, then at least doubling; we stop doubling at an hour. */
const FIRST_REPEAT_MS = 1000;
const MAX_REPEAT_MS = 3_600_000;
/** Interfaces are polled: Node has no netlink events. */
const INTERFACE_POLL_MS = 2000;
/** Events kept for an iterator that has not caught up; older ones are dropped. */
const MAX_QUEUED_EVENTS = 1000;

export interface DiscoveredServer extends ResolvedServer {
	/**
	 * known_hosts already pins the announced fingerprint for one of the
	 * announced addresses and this port. Only a hint for display: the
	 * announcement is unauthenticated, and the certificate presented when
	 * connecting is what counts.
	 */
	readonly pinned: boolean;
}

export interface DiscoveryEvent {
	readonly type: 'up' | 'updated' | 'down';
	readonly server: DiscoveredServer;
}

export interface DiscoverOptions {
	/** Interface names or IPv4 addresses to browse on; default: every IPv4 interface, loopback included. */
	readonly interfaces?: readonly string[];
	/** Where to look up pins for `pinned`; `false` marks nothing pinned. Default: the client's known_hosts. */
	readonly knownHosts?: KnownHosts | false;
	/** Stops browsing when aborted, like `close()`. */
	readonly signal?: AbortSignal;
}

interface DiscoveryEvents {
	up: [DiscoveredServer];
	updated: [DiscoveredServer];
	down: [DiscoveredServer];
	event: [DiscoveryEvent];
	/** Socket trouble; browsing goes on. */
	warning: [Error];
}

const sameServer = (a: ResolvedServer, b: ResolvedServer) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Browses for spyder-remote servers with mDNS/DNS-SD until closed. Listen to
 * `up`, `updated` and `down`, or iterate: `for await (const { type, server } of discover())`.
 */
export class Discovery extends EventEmitter<DiscoveryEvents> implements AsyncIterable<DiscoveryEvent> {
	private readonly cache = new RecordCache();
	private readonly links = new Map<string, BrowseLink>();
	private readonly knownHosts: KnownHosts | undefined;
	/** What resolveServers last produced, and what was last emitted (with `pinned`). */
	private resolved = new Map<string, ResolvedServer>();
	private readonly visible = new Map<string, DiscoveredServer>();
	private emitting: Promise<void> = Promise.resolve();
	private readonly queue: DiscoveryEvent[] = [];
	private readonly waiters: (() => void)[] = [];
	private cacheTimer: NodeJS.Timeout | undefined;
	private queryTimer: NodeJS.Timeout | undefined;
	private readonly interfaceTimer: NodeJS.Timeout;
	private closed = false;
	/** Resolves once every interface's sockets are open and the first queries are out. */
	readonly ready: Promise<void>;

	constructor(private readonly options: DiscoverOptions = {}) {
		super();
		this.knownHosts = options.knownHosts === false ? undefined : (options.knownHosts ?? new KnownHosts());
		this.ready = this.refreshLinks();
		this.scheduleQuery(FIRST_REPEAT_MS);
		this.interfaceTimer = setInterval(() => void this.refreshLinks(), INTERFACE_POLL_MS);
		this.interfaceTimer.unref();
		options.signal?.addEventListener('abort', () => void this.close(), { once: true });
	}

	/** The servers resolved right now. */
	get servers(): DiscoveredServer[] {
		return [...this.visible.values()];
	}

	async close(): Promise<void> {
		if (this.closed) return;
		this.closed = true;
		clearTimeout(this.cacheTimer);
		clearTimeout(this.queryTimer);
		clearInterval(this.interfaceTimer);
		await Promise.all([...this.links.values()].map((link) => link.close()));
		this.links.clear();
		await this.emitting;
		for (const wake of this.waiters.splice(0)) wake();
	}

	async *[Symbol.asyncIterator](): AsyncIterator<DiscoveryEvent> {
		try {
			while (true) {
				const event = this.queue.shift();
				if (event) yield event;
				else if (this.closed) return;
				else await new Promise<void>((resolve) => this.waiters.push(resolve));
			}
		} finally {
			await this.close();
		}
	}

	private async refreshLinks(): Promise<void> {
		if (this.closed) return;
		const wanted = browseAddresses(this.options.interfaces);
		for (const [key, link] of this.links) {
			if (!wanted.some((candidate) => `${candidate.name}/${candidate.address}` === key)) {
				this.links.delete(key);
				void link.close();
			}
		}
		const added: BrowseLink[] = [];
		for (const address of wanted) {
			const key = `${address.name}/${address.address}`;
			if (this.links.has(key)) continue;
			const link = new BrowseLink(
				address,
				(packet) => this.onPacket(packet),
				(error) => this.emit('warning', error),
			);
			this.links.set(key, link);
			added.push(link);
		}
		await Promise.all(added.map((link) => link.ready));
		if (this.closed) return;
		const question: Question = { name: SERVICE_TYPE, type: 'PTR' };
		for (const link of added) {
			link.queryOnce({ questions: [question] });
			link.query({ questions: [question] });
		}
	}

	/** Continuous querying for the service type, listing what we know so that responders leave it out. */
	private scheduleQuery(delayMs: number): void {
		this.queryTimer = setTimeout(() => {
			const known = this.cache
				.knownAnswers(SERVICE_TYPE, 'PTR', Date.now())
				.map(({ record, ttl }): Answer => ({ name: SERVICE_TYPE, type: 'PTR', ttl, data: record.data as string }));
			for (const link of this.links.values()) link.query({ questions: [{ name: SERVICE_TYPE, type: 'PTR' }], answers: known });
			this.scheduleQuery(Math.min(delayMs * 2, MAX_REPEAT_MS));
		}, delayMs);
		this.queryTimer.unref();
	}

	private onPacket(packet: DecodedPacket): void {
		if (this.closed) return;
		const records = [...(packet.answers ?? []), ...(packet.additionals ?? [])];
		if (this.cache.add(records, Date.now())) this.update();
		this.scheduleCacheWork();
	}

	private scheduleCacheWork(): void {
		clearTimeout(this.cacheTimer);
		const next = this.cache.nextEvent();
		if (next === undefined || this.closed) return;
		this.cacheTimer = setTimeout(() => this.cacheWork(), Math.max(0, next - Date.now()));
		this.cacheTimer.unref();
	}

	private cacheWork(): void {
		const now = Date.now();
		if (this.cache.expire(now)) this.update();
		const due = new Map<string, Question>();
		for (const record of this.cache.dueForRefresh(now)) due.set(`${record.name} ${record.type}`, { name: record.name, type: record.type });
		if (due.size > 0) for (const link of this.links.values()) link.query({ questions: [...due.values()] });
		this.scheduleCacheWork();
	}

	private update(): void {
		const next = resolveServers(this.cache);
		const changes: { type: DiscoveryEvent['type']; key: string; server: ResolvedServer }[] = [];
		for (const [key, server] of next) {
			const before = this.resolved.get(key);
			if (!before) changes.push({ type: 'up', key, server });
			else if (!sameServer(before, server)) changes.push({ type: 'updated', key, server });
		}
		for (const [key, server] of this.resolved) if (!next.has(key)) changes.push({ type: 'down', key, server });
		this.resolved = next;
		if (changes.length === 0) return;
		// Pins are read from a file; events still come out in the order the changes happened.
		this.emitting = this.emitting.then(async () => {
			for (const change of changes) {
				const server: DiscoveredServer = { ...change.server, pinned: await this.isPinned(change.server) };
				if (change.type === 'down') this.visible.delete(change.key);
				else this.visible.set(change.key, server);
				this.publish({ type: change.type, server });
			}
		});
	}

	private async isPinned(server: ResolvedServer): Promise<boolean> {
		if (!this.knownHosts) return false;
		for (const address of server.addresses) {
			// An unreadable known_hosts pins nothing: the server is then shown as not yet trusted.
			if ((await this.knownHosts.lookup(address, server.port).catch(() => undefined)) === server.fingerprint) return true;
		}
		return false;
	}

	private publish(event: DiscoveryEvent): void {
		if (this.closed) return;
		this.queue.push(event);
		if (this.queue.length > MAX_QUEUED_EVENTS) this.queue.shift();
		for (const wake of this.waiters.splice(0)) wake();
		this.emit(event.type, event.server);
		this.emit('event', event);
	}
}

/** Starts browsing for spyder-remote servers on the local network. */
export function discover(options?: DiscoverOptions): Discovery {
	return new Discovery(options);
}
