import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * Delays logins after failures, per client address and per user name, with
 * timers only: a throttled attempt waits without holding up any other
 * connection. Counters decay after `forgetAfterMs` and the table is bounded
 * so a scan from many addresses cannot grow memory.
 */
export class LoginThrottle {
	private readonly entries = new Map<string, { failures: number; notBefore: number; lastFailure: number }>();

	constructor(
		private readonly options: { baseDelayMs: number; maxDelayMs: number; forgetAfterMs?: number; maxEntries?: number; onFailure?: (source: string) => void },
		private readonly now: () => number = Date.now,
	) {}

	/** Milliseconds the next attempt from `source` for `user` must wait. */
	waitFor(source: string, user: string): number {
		const time = this.now();
		const notBefore = Math.max(this.entry(`source:${source}`, time)?.notBefore ?? 0, this.entry(`user:${user}`, time)?.notBefore ?? 0);
		return Math.max(0, notBefore - time);
	}

	recordFailure(source: string, user: string): void {
		this.options.onFailure?.(source);
		const time = this.now();
		for (const key of [`source:${source}`, `user:${user}`]) {
			const failures = (this.entry(key, time)?.failures ?? 0) + 1;
			const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(failures - 1, 20));
			this.entries.delete(key);
			this.entries.set(key, { failures, notBefore: time + delay, lastFailure: time });
		}
		const maxEntries = this.options.maxEntries ?? 10_000;
		for (const key of this.entries.keys()) {
			if (this.entries.size <= maxEntries) break;
			this.entries.delete(key);
		}
	}

	recordSuccess(source: string, user: string): void {
		this.entries.delete(`source:${source}`);
		this.entries.delete(`user:${user}`);
	}

	private entry(key: string, time: number) {
		const entry = this.entries.get(key);
		if (entry && time - entry.lastFailure > (this.options.forgetAfterMs ?? 15 * 60_000)) {
			this.entries.delete(key);
			return undefined;
		}
		return entry;
	}
}

/** A slot among the connections being logged in, or a place in the queue for one. */
export interface StartupTicket {
	/** Gives the slot (or the place) back: the connection logged in or went. */
	release(): void;
}

/**
 * OpenSSH's MaxStartups "start:rate:full" over unauthenticated connections.
 * At most `start` are being logged in (TLS handshake and login) at once. With
 * `queue`, those beyond wait in arrival order for a slot and only those
 * beyond `full` are refused, so a burst of legitimate logins is served late
 * rather than dropped; without it, as in sshd, each one beyond `start` is
 * refused with a probability rising from rate% to 100% at `full`.
 */
export class StartupLimiter {
	private readonly start: number;
	private readonly rate: number;
	private readonly full: number;
	private active = 0;
	private readonly waiting = new Set<() => void>();

	constructor(
		spec: string,
		private readonly queue: boolean,
		private readonly random: () => number = Math.random,
	) {
		const [start, rate, full] = spec.split(':').map(Number);
		this.start = start!;
		this.rate = rate ?? 100;
		this.full = Math.max(full ?? start!, start!);
	}

	/** Unauthenticated connections: being logged in, and waiting. */
	get count(): number {
		return this.active + this.waiting.size;
	}

	/**
	 * Admits a new connection: `begin` runs now, or once a slot frees. Returns
	 * undefined when the connection is refused (and `begin` never runs).
	 */
	enter(begin: () => void): StartupTicket | undefined {
		if (this.queue ? this.count >= this.full : this.dropsAt(this.active)) return undefined;
		let holdsSlot = false;
		const wake = () => {
			this.waiting.delete(wake);
			this.active += 1;
			holdsSlot = true;
			begin();
		};
		if (this.active < this.start) wake();
		else this.waiting.add(wake);
		return { release: once(() => (holdsSlot ? this.leaveSlot() : this.waiting.delete(wake))) };
	}

	private leaveSlot(): void {
		this.active -= 1;
		const next = this.waiting.values().next();
		if (!next.done && this.active < this.start) next.value();
	}

	private dropsAt(unauthenticated: number): boolean {
		if (unauthenticated < this.start) return false;
		if (unauthenticated >= this.full) return true;
		const percent = this.rate + ((100 - this.rate) * (unauthenticated - this.start)) / (this.full - this.start);
		return this.random() * 100 < percent;
	}
}

function once(action: () => void): () => void {
	let done = false;
	return () => {
		if (done) return;
		done = true;
		action();
	};
}

export type PenaltyKind = 'authfail' | 'noauth' | 'grace-exceeded';

export interface PenaltyPolicy {
	/** Seconds added per event. */
	readonly seconds: Readonly<Record<PenaltyKind, number>>;
	/** A source is refused only once this many seconds have accrued. */
	readonly min: number;
	/** Accrual stops here. */
	readonly max: number;
	/** Sources tracked at most; beyond it, new sources are not penalised (the global limits still hold). */
	readonly maxSources: number;
}

export const DEFAULT_PENALTIES = 'authfail:5 noauth:1 grace-exceeded:10 min:15 max:600 max-sources:65536';

/** `auth.perSourcePenalties`: "no", "yes" (the defaults) or space-separated `name:seconds` overriding them, as sshd's PerSourcePenalties. */
export function parsePenalties(spec: string): PenaltyPolicy | undefined {
	if (spec === 'no') return undefined;
	const values = new Map<string, number>();
	for (const part of `${DEFAULT_PENALTIES} ${spec === 'yes' ? '' : spec}`.split(/\s+/).filter(Boolean)) {
		const [name, value] = part.split(':');
		values.set(name!, Number(value));
	}
	return {
		seconds: { authfail: values.get('authfail')!, noauth: values.get('noauth')!, 'grace-exceeded': values.get('grace-exceeded')! },
		min: values.get('min')!,
		max: values.get('max')!,
		maxSources: values.get('max-sources')!,
	};
}

export type SourceVerdict = 'admit' | 'penalised' | 'too-many';

/**
 * Per-source limits in front of MaxStartups, after sshd's
 * PerSourceMaxStartups and PerSourcePenalties. A source is a net block
 * (`/v4` bits of an IPv4 address, `/v6` of an IPv6 one) so that a host
 * cannot escape by using its other addresses. Both tables are bounded:
 * startups by MaxStartups' `full` (a refused connection is never counted),
 * penalties by `maxSources`.
 */
export class SourceLimits {
	private readonly startups = new Map<string, number>();
	/** Insertion order is update order, so the front holds the stalest entries. */
	private readonly penalties = new Map<string, { until: number; active: boolean }>();
	private readonly exempt = new BlockList();

	constructor(
		private readonly options: {
			maxStartups: number | undefined;
			penalties: PenaltyPolicy | undefined;
			netBlockSize: readonly [number, number];
			exempt: readonly string[];
		},
		private readonly now: () => number = Date.now,
	) {
		for (const entry of options.exempt) {
			const [address, bits] = entry.split('/');
			const family = isIPv6(address!) ? 'ipv6' : 'ipv4';
			if (bits === undefined) this.exempt.addAddress(address!, family);
			else this.exempt.addSubnet(address!, Number(bits), family);
		}
	}

	/** The net block `address` counts against, or undefined when it is exempt or not an IP address. */
	sourceOf(address: string | undefined): string | undefined {
		if (!address) return undefined;
		const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
		const plain = mapped ?? address.replace(/%.*$/, '');
		const family = isIPv4(plain) ? 'ipv4' : isIPv6(plain) ? 'ipv6' : undefined;
		if (!family || this.exempt.check(plain, family)) return undefined;
		return family === 'ipv4' ? netBlock(ipv4Bytes(plain), this.options.netBlockSize[0]) : netBlock(ipv6Bytes(plain), this.options.netBlockSize[1]);
	}

	verdict(source: string): SourceVerdict {
		const penalty = this.penalties.get(source);
		if (penalty && penalty.until <= this.now()) this.penalties.delete(source);
		else if (penalty?.active) return 'penalised';
		const max = this.options.maxStartups;
		return max !== undefined && (this.startups.get(source) ?? 0) >= max ? 'too-many' : 'admit';
	}

	opened(source: string): void {
		this.startups.set(source, (this.startups.get(source) ?? 0) + 1);
	}

	/** The connection logged in or went. */
	closed(source: string): void {
		const count = (this.startups.get(source) ?? 0) - 1;
		if (count > 0) this.startups.set(source, count);
		else this.startups.delete(source);
	}

	/** Penalties accrue from now (an expired one starts afresh), up to `max`; a source is refused once `min` has accrued, until it all expires. */
	penalise(source: string, kind: PenaltyKind): void {
		const policy = this.options.penalties;
		if (!policy || policy.seconds[kind] === 0) return;
		const time = this.now();
		const entry = this.penalties.get(source);
		const base = entry && entry.until > time ? entry : undefined;
		if (!entry && !this.makeRoom(time, policy.maxSources)) return;
		const until = Math.min(Math.max(base?.until ?? time, time) + policy.seconds[kind] * 1000, time + policy.max * 1000);
		this.penalties.delete(source);
		this.penalties.set(source, { until, active: (base?.active ?? false) || until - time >= policy.min * 1000 });
	}

	/** Sources with a penalty in force, for logs. */
	get penalisedCount(): number {
		return this.penalties.size;
	}

	private makeRoom(time: number, maxSources: number): boolean {
		for (const [source, entry] of this.penalties) {
			if (this.penalties.size < maxSources || entry.until > time) break;
			this.penalties.delete(source);
		}
		return this.penalties.size < maxSources;
	}
}

function ipv4Bytes(address: string): number[] {
	return address.split('.').map(Number);
}

function ipv6Bytes(address: string): number[] {
	let text = address;
	const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
	if (v4) {
		const [a, b, c, d] = ipv4Bytes(v4);
		text = `${text.slice(0, -v4.length)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
	}
	const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
	const headGroups = head ? head.split(':') : [];
	const tailGroups = tail ? tail.split(':') : [];
	const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
	return groups.flatMap((group) => {
		const value = Number.parseInt(group, 16);
		return [value >> 8, value & 0xff];
	});
}

function netBlock(bytes: number[], bits: number): string {
	const masked = bytes.map((byte, index) => {
		const keep = Math.max(0, Math.min(8, bits - index * 8));
		return byte & ((0xff << (8 - keep)) & 0xff);
	});
	return `${Buffer.from(masked).toString('hex')}/${bits}`;
}
