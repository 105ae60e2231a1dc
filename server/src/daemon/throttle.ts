/**
 * Delays logins after failures, per client address and per user name, with
 * timers only: a throttled attempt waits without holding up any other
 * connection. Counters decay after `forgetAfterMs` and the table is bounded
 * so a scan from many addresses cannot grow memory.
 */
export class LoginThrottle {
	private readonly entries = new Map<string, { failures: number; notBefore: number; lastFailure: number }>();

	constructor(
		private readonly options: { baseDelayMs: number; maxDelayMs: number; forgetAfterMs?: number; maxEntries?: number },
		private readonly now: () => number = Date.now,
	) {}

	/** Milliseconds the next attempt from `source` for `user` must wait. */
	waitFor(source: string, user: string): number {
		const time = this.now();
		const notBefore = Math.max(this.entry(`source:${source}`, time)?.notBefore ?? 0, this.entry(`user:${user}`, time)?.notBefore ?? 0);
		return Math.max(0, notBefore - time);
	}

	recordFailure(source: string, user: string): void {
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

/**
 * OpenSSH's MaxStartups "start:rate:full": below `start` unauthenticated
 * connections every new one is accepted; from `start` on, new ones are
 * dropped with a probability rising linearly from rate% to 100% at `full`.
 */
export class StartupLimiter {
	private readonly start: number;
	private readonly rate: number;
	private readonly full: number;

	constructor(spec: string, private readonly random: () => number = Math.random) {
		const [start, rate, full] = spec.split(':').map(Number);
		this.start = start!;
		this.rate = rate ?? 100;
		this.full = full ?? start!;
	}

	shouldDrop(unauthenticated: number): boolean {
		if (unauthenticated < this.start) return false;
		if (unauthenticated >= this.full) return true;
		const percent = this.rate + ((100 - this.rate) * (unauthenticated - this.start)) / (this.full - this.start);
		return this.random() * 100 < percent;
	}
}
