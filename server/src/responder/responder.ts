import type { RemoteInfo } from 'node:dgram';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import type { Logger } from '../common/log.js';
import { answerQuestions, readQuestion, withoutKnownAnswers, type IncomingQuestion } from './answers.js';
import { claimedNames, compareProbes, probedNames, type OwnedName } from './conflicts.js';
import type { LinkDescription } from './interfaces.js';
import { MdnsLink, type Destination } from './link.js';
import { MDNS_PORT } from '@spyder-remote/protocol';
import { hostFqdn, instanceFqdn, nextHostLabel, nextInstanceName, type ServiceNames } from './names.js';
import { KeyedRateLimiter, TokenBucket } from './rate-limit.js';
import { allRecords, ANY_TYPE, LEGACY_UNICAST_TTL, recordKey, serviceRecords, ttlOf, uniqueRecords, withTtl, type ServiceRecords } from './records.js';

/** RFC 6762 §8.1: three probes 250 ms apart, the first after a random 0–250 ms. */
const PROBE_COUNT = 3;
const PROBE_INTERVAL_MS = 250;
/** RFC 6762 §8.3: at least two announcements, one second apart. */
const ANNOUNCEMENTS = 2;
const ANNOUNCE_INTERVAL_MS = 1000;
/** RFC 6762 §6: a record is multicast on a link at most once a second, a probe defence at most every 250 ms. */
const MULTICAST_INTERVAL_MS = 1000;
const DEFENCE_INTERVAL_MS = 250;
/** RFC 6762 §8.1: after 15 conflicts in 10 s, wait 5 s before each further probe. */
const CONFLICT_WINDOW_MS = 10_000;
const CONFLICT_LIMIT = 15;
const CONFLICT_BACKOFF_MS = 5000;
/** RFC 6762 §8.2: the loser of a simultaneous probe waits a second and probes again. */
const PROBE_DEFER_MS = 1000;
/** Our own records just withdrawn may still echo back; they are no conflict. */
const RETIRED_GRACE_MS = 3000;
/** Packets looked at per link: enough for a busy network, a ceiling for a flood. */
const INTAKE_PER_SECOND = 500;
const INTAKE_BURST = 1000;
/** Legacy unicast answers per source address: the spec promises 10 a second after a burst of 20. */
const UNICAST_ANSWERS_PER_SECOND = 10;
const UNICAST_ANSWER_BURST = 20;
/** Questions echoed in a legacy unicast answer: enough for any real querier, too few to amplify. */
const MAX_ECHOED_QUESTIONS = 8;

export interface ResponderOptions {
	readonly names: ServiceNames;
	readonly port: number;
	readonly txt: readonly Buffer[];
	readonly logger: Logger;
}

interface PendingResponse {
	readonly answers: Answer[];
	readonly additionals: Answer[];
	readonly known: Answer[];
}

interface LinkState {
	readonly link: MdnsLink;
	description: LinkDescription;
	records: ServiceRecords;
	phase: 'probing' | 'announced' | 'closed';
	readonly timers: Set<NodeJS.Timeout>;
	/** recordKey → when it was last multicast here. */
	readonly lastMulticast: Map<string, number>;
	/** Delayed multicast answers, one per querier, so its later known answers still count. */
	readonly pending: Map<string, PendingResponse>;
	/** Records we withdrew, still ours until `until`: their echoes are no conflict. */
	retired: { readonly record: Answer; readonly until: number }[];
	lastDefence: number;
	/** Bounds the work a flood can cause: packets looked at per second. */
	readonly intake: TokenBucket;
	/** Legacy unicast answers per source address. */
	readonly unicastAnswers: KeyedRateLimiter;
}

const randomBetween = (low: number, high: number) => low + Math.random() * (high - low);
const isShared = (record: Answer) => record.type === 'PTR';

/**
 * An RFC 6762/6763 responder for one spyder-remote service: it probes for
 * its names, announces, answers, defends its names, renames itself on
 * conflict, and says goodbye. Each network interface is a link of its own;
 * a conflict on any link renames the service everywhere.
 */
export class Responder {
	private names: ServiceNames;
	private readonly links = new Map<string, LinkState>();
	private readonly conflictTimes: number[] = [];
	private stopped = false;

	constructor(private readonly options: ResponderOptions) {
		this.names = options.names;
	}

	get currentNames(): ServiceNames {
		return this.names;
	}

	/** Brings the links in line with the interfaces: new ones probe, vanished ones say goodbye, changed ones re-announce. */
	async setLinks(descriptions: readonly LinkDescription[]): Promise<void> {
		if (this.stopped) return;
		const wanted = new Map(descriptions.map((description) => [description.name, description]));
		for (const [name, state] of this.links) {
			const description = wanted.get(name);
			const sameSocket =
				description && description.socketAddress === state.description.socketAddress && description.subnets.join() === state.description.subnets.join();
			if (!sameSocket) await this.closeLink(state);
			else if (description.served.join() !== state.description.served.join()) await this.changeAddresses(state, description);
		}
		for (const description of descriptions) if (!this.links.has(description.name)) await this.openLink(description);
	}

	async stop(): Promise<void> {
		this.stopped = true;
		await Promise.all([...this.links.values()].map((state) => this.closeLink(state)));
	}

	private async openLink(description: LinkDescription): Promise<void> {
		const logger = this.options.logger;
		const state: LinkState = {
			link: new MdnsLink(description, {
				packet: (packet, source) => this.onPacket(state, packet, source),
				warning: (error) => logger.debug({ link: description.name, err: error.message }, 'mDNS socket warning'),
			}),
			description,
			records: this.recordsFor(description),
			phase: 'probing',
			timers: new Set(),
			lastMulticast: new Map(),
			pending: new Map(),
			retired: [],
			lastDefence: 0,
			intake: new TokenBucket(INTAKE_PER_SECOND, INTAKE_BURST),
			unicastAnswers: new KeyedRateLimiter(UNICAST_ANSWERS_PER_SECOND, UNICAST_ANSWER_BURST),
		};
		this.links.set(description.name, state);
		try {
			await state.link.ready;
		} catch (error) {
			logger.warn({ link: description.name, err: (error as Error).message }, 'cannot open mDNS on this interface');
			this.links.delete(description.name);
			state.phase = 'closed';
			await state.link.close();
			return;
		}
		logger.info({ link: description.name, addresses: description.served }, 'mDNS link up');
		this.startProbing(state, randomBetween(0, PROBE_INTERVAL_MS));
	}

	private async closeLink(state: LinkState): Promise<void> {
		this.cancel(state);
		this.links.delete(state.description.name);
		if (state.phase === 'announced') await state.link.send({ type: 'response', answers: allRecords(state.records).map((record) => withTtl(record, 0)) });
		state.phase = 'closed';
		await state.link.close();
		this.options.logger.info({ link: state.description.name }, 'mDNS link down');
	}

	private async changeAddresses(state: LinkState, description: LinkDescription): Promise<void> {
		const before = allRecords(state.records);
		state.description = description;
		state.records = this.recordsFor(description);
		const now = allRecords(state.records).map(recordKey);
		const withdrawn = before.filter((record) => !now.includes(recordKey(record)));
		state.retired.push(...withdrawn.map((record) => ({ record, until: Date.now() + RETIRED_GRACE_MS })));
		this.options.logger.info({ link: description.name, addresses: description.served }, 'addresses changed');
		if (state.phase !== 'announced') return;
		if (withdrawn.length > 0) await state.link.send({ type: 'response', answers: withdrawn.map((record) => withTtl(record, 0)) });
		this.cancel(state);
		this.announce(state, ANNOUNCEMENTS);
	}

	private recordsFor(description: LinkDescription): ServiceRecords {
		return serviceRecords({ names: this.names, port: this.options.port, txt: this.options.txt, addresses: description.served });
	}

	private schedule(state: LinkState, delayMs: number, step: () => void): void {
		const timer = setTimeout(() => {
			state.timers.delete(timer);
			if (state.phase !== 'closed') step();
		}, delayMs);
		state.timers.add(timer);
	}

	private cancel(state: LinkState): void {
		for (const timer of state.timers) clearTimeout(timer);
		state.timers.clear();
		state.pending.clear();
	}

	private startProbing(state: LinkState, delayMs: number): void {
		this.cancel(state);
		state.phase = 'probing';
		const probe = (sent: number) => {
			if (sent === PROBE_COUNT) return this.announce(state, ANNOUNCEMENTS);
			void state.link.send({
				type: 'query',
				questions: [
					{ name: instanceFqdn(this.names), type: ANY_TYPE },
					{ name: hostFqdn(this.names), type: ANY_TYPE },
				],
				authorities: state.records.unique.map((record) => withTtl(record, ttlOf(record), false)),
			});
			this.schedule(state, PROBE_INTERVAL_MS, () => probe(sent + 1));
		};
		this.schedule(state, delayMs, () => probe(0));
	}

	private announce(state: LinkState, remaining: number): void {
		if (state.phase === 'probing')
			this.options.logger.info({ link: state.description.name, instance: this.names.instance, host: hostFqdn(this.names) }, 'announced');
		state.phase = 'announced';
		void this.multicast(state, allRecords(state.records), []);
		if (remaining > 1) this.schedule(state, ANNOUNCE_INTERVAL_MS, () => this.announce(state, remaining - 1));
	}

	private async multicast(state: LinkState, answers: Answer[], additionals: Answer[]): Promise<void> {
		if (answers.length === 0) return;
		const now = Date.now();
		for (const record of [...answers, ...additionals]) state.lastMulticast.set(recordKey(record), now);
		await state.link.send({ type: 'response', answers, additionals });
	}

	private onPacket(state: LinkState, packet: DecodedPacket, source: RemoteInfo): void {
		if (state.phase === 'closed' || !state.intake.take()) return;
		// RFC 6762 §18.3 and §18.11: other opcodes and non-zero response codes are ignored.
		if ((packet as { opcode?: string }).opcode !== 'QUERY' || (packet as { rcode?: string }).rcode !== 'NOERROR') return;
		if (packet.type === 'response') {
			const now = Date.now();
			state.retired = state.retired.filter((entry) => entry.until > now);
			const ours = [...allRecords(state.records), ...state.retired.map((entry) => entry.record)];
			for (const owner of claimedNames([...(packet.answers ?? []), ...(packet.additionals ?? [])], ours, this.names)) this.onConflict(owner, state, source);
			return;
		}
		if (this.onProbe(state, packet.authorities ?? [])) return;
		if (state.phase !== 'announced') return;
		const questions = (packet.questions ?? []).map(readQuestion).filter((question): question is IncomingQuestion => question !== undefined);
		if (questions.length === 0) return;
		if (source.port !== MDNS_PORT) this.answerLegacyUnicast(state, packet, questions, source);
		else this.answerMulticast(state, packet, questions, source);
	}

	/** Handles the authority section of someone's probe; true when we must stop and probe again. */
	private onProbe(state: LinkState, authorities: readonly Answer[]): boolean {
		const ours = state.records.unique;
		for (const owner of probedNames(authorities, this.names)) {
			const order = compareProbes(ours, authorities, owner, this.names);
			if (order === 0) continue;
			if (state.phase === 'probing' && order < 0) {
				this.options.logger.info({ link: state.description.name, name: owner }, 'lost a simultaneous probe; probing again in a second');
				this.startProbing(state, PROBE_DEFER_MS);
				return true;
			}
			if (state.phase === 'announced') this.defend(state);
		}
		return false;
	}

	/** Tells a host probing for our name that it is taken (RFC 6762 §8.1). */
	private defend(state: LinkState): void {
		const now = Date.now();
		if (now - state.lastDefence < DEFENCE_INTERVAL_MS) return;
		state.lastDefence = now;
		void this.multicast(state, [...state.records.unique], []);
	}

	private onConflict(owner: OwnedName, state: LinkState, source: RemoteInfo): void {
		const now = Date.now();
		this.conflictTimes.push(now);
		while (this.conflictTimes[0]! < now - CONFLICT_WINDOW_MS) this.conflictTimes.shift();
		const previous = this.names;
		this.names = owner === 'instance' ? { ...previous, instance: nextInstanceName(previous.instance) } : { ...previous, host: nextHostLabel(previous.host) };
		this.options.logger.info(
			{
				link: state.description.name,
				from: source.address,
				name: owner,
				previous: owner === 'instance' ? previous.instance : previous.host,
				now: owner === 'instance' ? this.names.instance : this.names.host,
			},
			'name conflict; renamed',
		);
		const delayMs = this.conflictTimes.length > CONFLICT_LIMIT ? CONFLICT_BACKOFF_MS : randomBetween(0, PROBE_INTERVAL_MS);
		for (const link of this.links.values()) {
			link.records = this.recordsFor(link.description);
			link.lastMulticast.clear();
			this.startProbing(link, delayMs);
		}
	}

	/** RFC 6762 §6.7: a querier not on port 5353 gets a unicast answer at once, with its ID and questions, TTL ≤ 10 s, no cache-flush bit. */
	private answerLegacyUnicast(state: LinkState, packet: DecodedPacket, questions: IncomingQuestion[], source: RemoteInfo): void {
		const echoed = questions.slice(0, MAX_ECHOED_QUESTIONS);
		const { answers, additionals } = answerQuestions(echoed, state.records, this.names);
		if (answers.length === 0 || !state.unicastAnswers.take(source.address)) return;
		const legacy = (record: Answer) => withTtl(record, Math.min(ttlOf(record), LEGACY_UNICAST_TTL), false);
		const response: Packet = {
			type: 'response',
			id: packet.id ?? 0,
			questions: echoed.map((question) => ({ name: question.name, type: question.type as Question['type'], class: 'IN' })),
			answers: answers.map(legacy),
			additionals: additionals.map(legacy),
		};
		const destination: Destination = { address: source.address, port: source.port };
		void state.link.send(response, destination);
	}

	/**
	 * Multicast answers go out after a delay when they hold shared records
	 * (20–120 ms, so that several responders' answers spread out) or when the
	 * querier said more known answers follow (400–500 ms, the TC bit); unique
	 * records alone go at once.
	 */
	private answerMulticast(state: LinkState, packet: DecodedPacket, questions: IncomingQuestion[], source: RemoteInfo): void {
		const key = `${source.address}:${source.port}`;
		const known = packet.answers ?? [];
		const waiting = state.pending.get(key);
		const { answers, additionals } = answerQuestions(questions, state.records, this.names);
		if (waiting) {
			waiting.answers.push(...answers);
			waiting.additionals.push(...additionals);
			waiting.known.push(...known);
			return;
		}
		if (withoutKnownAnswers(answers, known).length === 0 && !packet.flag_tc) return;
		const pending: PendingResponse = { answers, additionals, known: [...known] };
		state.pending.set(key, pending);
		const delayMs = packet.flag_tc ? randomBetween(400, 500) : answers.some(isShared) ? randomBetween(20, 120) : 0;
		this.schedule(state, delayMs, () => {
			state.pending.delete(key);
			const now = Date.now();
			const recent = (record: Answer) => now - (state.lastMulticast.get(recordKey(record)) ?? -Infinity) < MULTICAST_INTERVAL_MS;
			const send = uniqueRecords(withoutKnownAnswers(pending.answers, pending.known).filter((record) => !recent(record)));
			const sentKeys = new Set(send.map(recordKey));
			const extra = uniqueRecords(pending.additionals.filter((record) => !sentKeys.has(recordKey(record)) && !recent(record)));
			void this.multicast(state, send, extra);
		});
	}
}
