import type { Answer, Question } from 'dns-packet';
import { hostFqdn, instanceFqdn, sameName, SERVICE_TYPE, type ServiceNames } from './names.js';
import { allRecords, HOST_TTL, recordKey, sameRecord, ttlOf, uniqueRecords, type ServiceRecords } from './records.js';

const CLASS_IN = 1;
const CLASS_ANY = 255;
/** RFC 6762 §5.4: the top bit of a question's class asks for a unicast answer. */
const UNICAST_RESPONSE_BIT = 0x8000;
const namedClasses: Record<string, number> = { IN: 1, CS: 2, CH: 3, HS: 4, ANY: 255 };

export interface IncomingQuestion {
	readonly name: string;
	readonly type: string;
	readonly unicastResponse: boolean;
}

/**
 * The question's class as a number. dns-packet names the classes it knows and
 * leaves the rest as `UNKNOWN_<n>`, which is where the unicast-response bit
 * ends up (its own QU check compares a string and never fires).
 */
function classNumber(text: unknown): number | undefined {
	if (typeof text !== 'string') return undefined;
	if (text in namedClasses) return namedClasses[text];
	const match = /^UNKNOWN_(\d{1,5})$/.exec(text);
	return match ? Number(match[1]) : undefined;
}

/** An mDNS question in class IN or ANY; other classes are not ours to answer. */
export function readQuestion(question: Question): IncomingQuestion | undefined {
	const klass = classNumber(question.class ?? 'IN');
	if (klass === undefined || typeof question.name !== 'string' || typeof question.type !== 'string') return undefined;
	const base = klass & ~UNICAST_RESPONSE_BIT;
	if (base !== CLASS_IN && base !== CLASS_ANY) return undefined;
	return { name: question.name, type: question.type, unicastResponse: (klass & UNICAST_RESPONSE_BIT) !== 0 };
}

export interface AnswerSet {
	readonly answers: Answer[];
	readonly additionals: Answer[];
}

const addressTypes = ['A', 'AAAA'] as const;

/** RFC 6762 §6.1: "this name has only these types", so a querier stops waiting for the others. */
function nsec(name: string, types: string[]): Answer {
	return { name, type: 'NSEC', ttl: HOST_TTL, flush: true, data: { nextDomain: name, rrtypes: types } };
}

/**
 * What we answer to these questions from our records: direct answers, plus
 * the additional records that save the querier a round trip (RFC 6763 §12),
 * plus NSEC for types we do not have at names we own.
 */
export function answerQuestions(questions: readonly IncomingQuestion[], records: ServiceRecords, names: ServiceNames): AnswerSet {
	const ours = allRecords(records);
	const host = hostFqdn(names);
	const instance = instanceFqdn(names);
	const addresses = ours.filter((record) => sameName(record.name, host));
	const presentAddressTypes = addressTypes.filter((type) => addresses.some((record) => record.type === type));
	const hostNsec = nsec(host, presentAddressTypes);
	const instanceNsec = nsec(instance, ['SRV', 'TXT']);

	const answers: Answer[] = [];
	for (const question of questions) {
		const matching = ours.filter((record) => sameName(record.name, question.name) && (question.type === 'ANY' || question.type === record.type));
		answers.push(...matching);
		if (matching.length > 0) continue;
		if (sameName(question.name, host)) answers.push(hostNsec);
		else if (sameName(question.name, instance)) answers.push(instanceNsec);
	}

	const additionals: Answer[] = [];
	const wantsInstance = answers.some((record) => record.type === 'PTR' && sameName(record.name, SERVICE_TYPE));
	const wantsHost = wantsInstance || answers.some((record) => record.type === 'SRV' || sameName(record.name, host));
	if (wantsInstance) additionals.push(...ours.filter((record) => sameName(record.name, instance)));
	if (wantsHost) {
		additionals.push(...addresses);
		if (presentAddressTypes.length < addressTypes.length) additionals.push(hostNsec);
	}
	return { answers: uniqueRecords(answers), additionals: uniqueRecords(additionals).filter((record) => !answers.some((answer) => sameRecord(answer, record))) };
}

/**
 * RFC 6762 §7.1 known-answer suppression: leave out what the querier listed
 * as known, unless its TTL there has fallen below half of ours.
 */
export function withoutKnownAnswers(answers: readonly Answer[], known: readonly Answer[]): Answer[] {
	const ourNames = new Set(answers.map((answer) => answer.name.toLowerCase()));
	const knownTtls = new Map<string, number>();
	for (const entry of known) {
		if (typeof entry.name !== 'string' || !ourNames.has(entry.name.toLowerCase())) continue;
		const key = recordKey(entry);
		knownTtls.set(key, Math.max(knownTtls.get(key) ?? 0, ttlOf(entry)));
	}
	return answers.filter((answer) => (knownTtls.get(recordKey(answer)) ?? -1) < ttlOf(answer) / 2);
}
