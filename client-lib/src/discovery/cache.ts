import { isIP } from 'node:net';
import type { Answer } from 'dns-packet';

/** Bounds what a flood of answers can make us hold. */
const MAX_RECORDS = 2048;
/** A cached record is asked for again at these fractions of its TTL (RFC 6762 §5.2). */
const REFRESH_POINTS = [0.8, 0.9];
/** RFC 6762 §10.1: a goodbye (TTL 0) removes the record one second later. */
const GOODBYE_DELAY_MS = 1000;
/** RFC 6762 §10.2: cache-flush spares records received within the last second. */
const FLUSH_GRACE_MS = 1000;
/** TTLs beyond a day are taken as a day. */
const MAX_TTL_S = 86_400;

export type CachedType = 'PTR' | 'SRV' | 'TXT' | 'A' | 'AAAA';

export interface SrvData {
	readonly port: number;
	readonly target: string;
}

export interface CachedRecord {
	readonly name: string;
	readonly type: CachedType;
	/** PTR: target name; SRV: SrvData; TXT: the strings; A/AAAA: the address. */
	readonly data: string | SrvData | readonly Buffer[];
	readonly received: number;
	readonly expires: number;
	/** When to ask for it again; empty once refreshed enough. */
	refreshAt: number[];
}

/** What one record means to us, in a form that compares by value; undefined for records we do not use. */
function normalize(record: Answer): { name: string; type: CachedType; data: CachedRecord['data']; identity: string } | undefined {
	const { name, type } = record;
	const data = (record as { data?: unknown }).data;
	if (typeof name !== 'string' || (record as { class?: string }).class !== 'IN') return undefined;
	const lower = name.toLowerCase();
	switch (type) {
		case 'PTR':
			return typeof data === 'string' ? { name: lower, type, data, identity: data.toLowerCase() } : undefined;
		case 'SRV': {
			const srv = data as { port?: unknown; target?: unknown } | undefined;
			if (typeof srv?.port !== 'number' || typeof srv.target !== 'string' || srv.port === 0) return undefined;
			return { name: lower, type, data: { port: srv.port, target: srv.target.toLowerCase() }, identity: `${srv.port} ${srv.target.toLowerCase()}` };
		}
		case 'TXT': {
			if (!Array.isArray(data) || !data.every((part) => Buffer.isBuffer(part))) return undefined;
			// Copies: the decoded slices share the whole datagram's memory.
			const strings = (data as Buffer[]).map((part) => Buffer.from(part));
			return { name: lower, type, data: strings, identity: strings.map((part) => `${part.length}:${part.toString('hex')}`).join(',') };
		}
		case 'A':
		case 'AAAA':
			return typeof data === 'string' && isIP(data) === (type === 'A' ? 4 : 6) ? { name: lower, type, data, identity: data.toLowerCase() } : undefined;
		default:
			return undefined;
	}
}

/**
 * The querier's record cache (RFC 6762 §10): TTLs, goodbyes, cache-flush,
 * refresh points. Names are kept lower-case.
 */
export class RecordCache {
	private readonly records = new Map<string, CachedRecord>();

	/** Stores what a response said; true when the set of live records changed. */
	add(answers: readonly Answer[], now: number): boolean {
		let changed = false;
		const flushed = new Set<string>();
		for (const answer of answers) {
			const record = normalize(answer);
			if (!record) continue;
			const ttl = Math.min((answer as { ttl?: number }).ttl ?? 0, MAX_TTL_S);
			const setKey = `${record.name}\u0000${record.type}`;
			if ((answer as { flush?: boolean }).flush && ttl > 0 && !flushed.has(setKey)) {
				flushed.add(setKey);
				for (const [key, cached] of this.records) {
					if (cached.name === record.name && cached.type === record.type && now - cached.received > FLUSH_GRACE_MS) {
						// Expire, not delete: RFC 6762 §10.2 gives flushed records one more second.
						this.records.set(key, { ...cached, expires: Math.min(cached.expires, now + GOODBYE_DELAY_MS), refreshAt: [] });
					}
				}
			}
			const key = `${setKey}\u0000${record.identity}`;
			const existing = this.records.get(key);
			if (!existing && this.records.size >= MAX_RECORDS) continue;
			const expires = ttl === 0 ? now + GOODBYE_DELAY_MS : now + ttl * 1000;
			const refreshAt = ttl === 0 ? [] : REFRESH_POINTS.map((point) => now + ttl * 1000 * (point + Math.random() * 0.02));
			this.records.set(key, { name: record.name, type: record.type, data: record.data, received: now, expires, refreshAt });
			if (!existing) changed = true;
		}
		return changed;
	}

	/** Drops expired records; true when any went. */
	expire(now: number): boolean {
		let changed = false;
		for (const [key, record] of this.records) {
			if (record.expires <= now) {
				this.records.delete(key);
				changed = true;
			}
		}
		return changed;
	}

	/** Records due for a refresh query now; each refresh point fires once. */
	dueForRefresh(now: number): CachedRecord[] {
		const due: CachedRecord[] = [];
		for (const record of this.records.values()) {
			if (record.refreshAt.length > 0 && record.refreshAt[0]! <= now) {
				record.refreshAt = record.refreshAt.filter((time) => time > now);
				due.push(record);
			}
		}
		return due;
	}

	/** The next time something expires or is due for refresh. */
	nextEvent(): number | undefined {
		let next: number | undefined;
		for (const record of this.records.values()) {
			for (const time of [record.expires, ...record.refreshAt.slice(0, 1)]) if (next === undefined || time < next) next = time;
		}
		return next;
	}

	/** Live records at a name, newest first. */
	lookup(name: string, type: CachedType): CachedRecord[] {
		const lower = name.toLowerCase();
		return [...this.records.values()].filter((record) => record.name === lower && record.type === type).sort((a, b) => b.received - a.received);
	}

	/** Records still live at `now` for more than half their TTL, to list as known answers. */
	knownAnswers(name: string, type: CachedType, now: number): { record: CachedRecord; ttl: number }[] {
		return this.lookup(name, type)
			.map((record) => ({ record, ttl: Math.floor((record.expires - now) / 1000) }))
			.filter(({ record, ttl }) => ttl * 1000 > (record.expires - record.received) / 2);
	}
}
