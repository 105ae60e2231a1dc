/** A token bucket: `burst` at once, refilled at `perSecond`. */
export class TokenBucket {
	private tokens: number;
	private updated: number;

	constructor(
		private readonly perSecond: number,
		private readonly burst: number,
		private readonly now: () => number = Date.now,
	) {
		this.tokens = burst;
		this.updated = now();
	}

	take(): boolean {
		const now = this.now();
		this.tokens = Math.min(this.burst, this.tokens + ((now - this.updated) / 1000) * this.perSecond);
		this.updated = now;
		if (this.tokens < 1) return false;
		this.tokens -= 1;
		return true;
	}
}

/**
 * One bucket per key (a source address), with a bounded number of keys so
 * that spoofed sources cannot grow it: when full, the table starts over,
 * which errs towards answering rather than remembering every attacker.
 */
export class KeyedRateLimiter {
	private readonly buckets = new Map<string, TokenBucket>();

	constructor(
		private readonly perSecond: number,
		private readonly burst: number,
		private readonly maxKeys = 1024,
		private readonly now: () => number = Date.now,
	) {}

	take(key: string): boolean {
		let bucket = this.buckets.get(key);
		if (!bucket) {
			if (this.buckets.size >= this.maxKeys) this.buckets.clear();
			bucket = new TokenBucket(this.perSecond, this.burst, this.now);
			this.buckets.set(key, bucket);
		}
		return bucket.take();
	}
}
