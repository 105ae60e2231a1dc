import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Tokens of the form `<uid>.<32 base64url characters>`, each honoured once:
 * the uid lets the daemon route a connection to this user's session host
 * without knowing anything else, and only this host can redeem the random
 * part. Kernel tunnels (6.13) and node agents' dial-backs (6.15) use them.
 */
export class OneUseTokens<Grant> {
	private readonly grants = new Map<string, { readonly grant: Grant; readonly expires: number }>();

	constructor(private readonly uid: number) {}

	issue(grant: Grant, lifetimeMs: number): string {
		this.sweep();
		const token = `${this.uid}.${randomBytes(24).toString('base64url')}`;
		this.grants.set(token, { grant, expires: Date.now() + lifetimeMs });
		return token;
	}

	/** The grant for a presented token, consumed; undefined for anything unknown, used or stale. Compared in constant time. */
	redeem(presented: string): Grant | undefined {
		this.sweep();
		const b = Buffer.from(presented);
		for (const [token, { grant }] of this.grants) {
			const a = Buffer.from(token);
			if (a.length === b.length && timingSafeEqual(a, b)) {
				this.grants.delete(token);
				return grant;
			}
		}
		return undefined;
	}

	/** Withdraws the unused tokens whose grant matches, e.g. those of a kernel that is gone. */
	revoke(matches: (grant: Grant) => boolean): void {
		for (const [token, { grant }] of this.grants) if (matches(grant)) this.grants.delete(token);
	}

	private sweep(): void {
		const now = Date.now();
		for (const [token, { expires }] of this.grants) if (expires < now) this.grants.delete(token);
	}
}
