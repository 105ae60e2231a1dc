import { isIPv4 } from 'node:net';
import dnsPacket, { type Answer, type RecordType } from 'dns-packet';
import { hostFqdn, instanceFqdn, SERVICE_TYPE, SERVICE_TYPE_ENUMERATION, type ServiceNames } from './names.js';

/** RFC 6762 §10: records naming a host live 120 s, all others 75 minutes. */
export const HOST_TTL = 120;
export const OTHER_TTL = 4500;
/** RFC 6762 §6.7: answers to legacy unicast queries carry at most 10 s. */
export const LEGACY_UNICAST_TTL = 10;

/** The question type "any record"; dns-packet encodes it, its typings leave it out. */
export const ANY_TYPE = 'ANY' as unknown as RecordType;

/** TTL and class of any record; dns-packet's OPT pseudo-record type lacks both. */
export const ttlOf = (record: Answer): number => (record as { ttl?: number }).ttl ?? 0;
export const classOf = (record: Answer): string | undefined => (record as { class?: string }).class;

export interface ServiceRecords {
	/** Shared records: other responders own the same name. */
	readonly shared: readonly Answer[];
	/** Unique records, sent with the cache-flush bit; these are what probing protects. */
	readonly unique: readonly Answer[];
}

export interface ServiceContent {
	readonly names: ServiceNames;
	readonly port: number;
	readonly txt: readonly Buffer[];
	/** The addresses served on one link. */
	readonly addresses: readonly string[];
}

export function serviceRecords({ names, port, txt, addresses }: ServiceContent): ServiceRecords {
	const instance = instanceFqdn(names);
	const host = hostFqdn(names);
	return {
		shared: [
			{ name: SERVICE_TYPE, type: 'PTR', ttl: OTHER_TTL, data: instance },
			{ name: SERVICE_TYPE_ENUMERATION, type: 'PTR', ttl: OTHER_TTL, data: SERVICE_TYPE },
		],
		unique: [
			{ name: instance, type: 'SRV', ttl: HOST_TTL, flush: true, data: { priority: 0, weight: 0, port, target: host } },
			{ name: instance, type: 'TXT', ttl: OTHER_TTL, flush: true, data: [...txt] },
			...addresses.map((address): Answer => ({ name: host, type: isIPv4(address) ? 'A' : 'AAAA', ttl: HOST_TTL, flush: true, data: address })),
		],
	};
}

export const allRecords = (records: ServiceRecords): Answer[] => [...records.shared, ...records.unique];

/** dns-packet's per-type codec; its typings leave it out. */
const recordCodec = (dnsPacket as unknown as { record(type: string): { encode(data: unknown): Buffer } }).record;

/**
 * The uncompressed rdata, for comparing records byte by byte (RFC 6762 §8.2);
 * undefined when a received record's decoded data cannot be encoded again.
 */
export function rdataOf(record: Answer): Buffer | undefined {
	try {
		return recordCodec(record.type)
			.encode((record as { data: unknown }).data)
			.subarray(2);
	} catch {
		return undefined;
	}
}

/** A record's identity: name (case-folded), type and rdata. TTL and flush do not count. */
export function recordKey(record: Answer): string {
	return `${record.name.toLowerCase()}\u0000${record.type}\u0000${rdataOf(record)?.toString('hex') ?? '?'}`;
}

export function sameRecord(a: Answer, b: Answer): boolean {
	if (a.type !== b.type || a.name.toLowerCase() !== b.name.toLowerCase()) return false;
	const [left, right] = [rdataOf(a), rdataOf(b)];
	return left !== undefined && right !== undefined && left.equals(right);
}

export function withTtl(record: Answer, ttl: number, flush = (record as { flush?: boolean }).flush): Answer {
	return { ...record, ttl, flush } as Answer;
}

/** Each record once, first occurrence kept. */
export function uniqueRecords(records: readonly Answer[]): Answer[] {
	const seen = new Set<string>();
	return records.filter((record) => {
		const key = recordKey(record);
		if (seen.has(key)) return false;
		seen.add(key);
		return true;
	});
}
