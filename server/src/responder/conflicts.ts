import type { Answer } from 'dns-packet';
import { hostFqdn, instanceFqdn, sameName, type ServiceNames } from './names.js';
import { classOf, rdataOf, sameRecord, ttlOf } from './records.js';

export type OwnedName = 'instance' | 'host';

/** The record types that make up each of our unique names. */
const typeNumbers: Record<OwnedName, Record<string, number>> = {
	instance: { TXT: 16, SRV: 33 },
	host: { A: 1, AAAA: 28 },
};

function ownerOf(record: Answer, names: ServiceNames): OwnedName | undefined {
	if (typeof record.name !== 'string') return undefined;
	if (sameName(record.name, instanceFqdn(names))) return 'instance';
	if (sameName(record.name, hostFqdn(names))) return 'host';
	return undefined;
}

/**
 * Which of our names another responder claims (RFC 6762 §9): a live record
 * at our name, of a type we hold there, with data we do not have. Our own
 * packets come back to us identical and are no conflict.
 */
export function claimedNames(incoming: readonly Answer[], ours: readonly Answer[], names: ServiceNames): Set<OwnedName> {
	const claimed = new Set<OwnedName>();
	for (const record of incoming) {
		const owner = ownerOf(record, names);
		if (!owner || !(record.type in typeNumbers[owner]) || classOf(record) !== 'IN' || ttlOf(record) === 0) continue;
		if (!ours.some((mine) => sameRecord(mine, record))) claimed.add(owner);
	}
	return claimed;
}

interface Comparable {
	readonly type: number;
	readonly rdata: Buffer;
}

function comparable(records: readonly Answer[], owner: OwnedName, names: ServiceNames): Comparable[] {
	return records
		.filter((record) => ownerOf(record, names) === owner && record.type in typeNumbers[owner])
		.map((record) => ({ type: typeNumbers[owner][record.type]!, rdata: rdataOf(record) ?? Buffer.alloc(0) }))
		.sort((a, b) => a.type - b.type || Buffer.compare(a.rdata, b.rdata));
}

/**
 * RFC 6762 §8.2 simultaneous-probe tiebreak for one name: negative when our
 * proposed records are lexicographically earlier (we lose and must defer),
 * positive when later (we win), zero when identical (it is our own probe).
 * Classes are all IN here, so the comparison starts at the type.
 */
export function compareProbes(ours: readonly Answer[], theirs: readonly Answer[], owner: OwnedName, names: ServiceNames): number {
	const [mine, other] = [comparable(ours, owner, names), comparable(theirs, owner, names)];
	for (let index = 0; index < Math.min(mine.length, other.length); index++) {
		const difference = mine[index]!.type - other[index]!.type || Buffer.compare(mine[index]!.rdata, other[index]!.rdata);
		if (difference !== 0) return difference;
	}
	return mine.length - other.length;
}

/** The names another host is probing for, judged from its probe's authority section. */
export function probedNames(authorities: readonly Answer[], names: ServiceNames): Set<OwnedName> {
	return new Set(authorities.map((record) => ownerOf(record, names)).filter((owner): owner is OwnedName => owner !== undefined));
}
