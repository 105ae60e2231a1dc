import { readdirSync } from 'node:fs';
import koffi from 'koffi';
import { loadLibrary } from './native.js';

const RLIMIT_NOFILE: Partial<Record<NodeJS.Platform, number>> = { linux: 7, darwin: 8, freebsd: 8 };

let bindings: { getrlimit: ReturnType<koffi.IKoffiLib['func']>; setrlimit: ReturnType<koffi.IKoffiLib['func']> } | undefined;

function libc() {
	if (!bindings) {
		const lib = loadLibrary(process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6');
		koffi.struct('ssd_rlimit', { rlim_cur: 'uint64', rlim_max: 'uint64' });
		bindings = {
			getrlimit: lib.func('int getrlimit(int resource, _Out_ ssd_rlimit *rlim)'),
			setrlimit: lib.func('int setrlimit(int resource, const ssd_rlimit *rlim)'),
		};
	}
	return bindings;
}

export interface DescriptorLimit {
	/** The soft limit before the raise. */
	readonly previous: number;
	/** The soft limit now in force. */
	readonly soft: number;
	readonly hard: number;
}

function resource(): number {
	const id = RLIMIT_NOFILE[process.platform];
	if (id === undefined) throw new Error(`RLIMIT_NOFILE is not known on ${process.platform}`);
	return id;
}

type RawLimit = { rlim_cur: number | bigint; rlim_max: number | bigint };

function readLimit(): RawLimit {
	const limit: RawLimit = { rlim_cur: 0, rlim_max: 0 };
	if (libc().getrlimit(resource(), limit) !== 0) throw new Error('getrlimit(RLIMIT_NOFILE) failed');
	return limit;
}

/** RLIMIT_NOFILE now: `soft` is what the process may open (RLIM_INFINITY reads as a huge number). */
export function descriptorLimit(): { soft: number; hard: number } {
	const limit = readLimit();
	return { soft: Number(limit.rlim_cur), hard: Number(limit.rlim_max) };
}

/**
 * Raises the soft RLIMIT_NOFILE to the hard one, as far as the kernel lets
 * it: every connection and every session costs descriptors, and running out
 * refuses logins. (Node raises it too on Linux; doing it here makes it
 * explicit and logged whatever started the daemon.)
 */
export function raiseDescriptorLimit(): DescriptorLimit {
	const raw = readLimit();
	const previous = Number(raw.rlim_cur);
	if (BigInt(raw.rlim_cur) < BigInt(raw.rlim_max)) {
		// macOS refuses an unlimited soft limit for descriptors (its hard one may be RLIM_INFINITY): OPEN_MAX there.
		const target = process.platform === 'darwin' && BigInt(raw.rlim_max) > 10_240n ? 10_240 : raw.rlim_max;
		if (libc().setrlimit(resource(), { rlim_cur: target, rlim_max: raw.rlim_max }) !== 0) throw new Error('setrlimit(RLIMIT_NOFILE) failed');
	}
	return { previous, ...descriptorLimit() };
}

/** How many descriptors the process has open now (one directory listing: cheap, but not free at tens of thousands). */
export function openDescriptorCount(): number {
	return readdirSync(process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd').length;
}

/**
 * Admits new connections only while `reserve` descriptors stay free, so a
 * flood of new connections can never take the descriptors that the sessions
 * already open (and the logins already under way) need. The count is read
 * at most once a second, and every 100 ms near the limit; in between, every
 * admission counts as one more descriptor, which errs on the safe side.
 */
export class DescriptorBudget {
	private measured = 0;
	private measuredAt = Number.NEGATIVE_INFINITY;
	private admittedSince = 0;

	constructor(
		readonly limit: number,
		readonly reserve: number,
		private readonly count: () => number = openDescriptorCount,
		private readonly now: () => number = Date.now,
	) {}

	/** Whether one more connection may be taken on; counts it if so. */
	admit(): boolean {
		const time = this.now();
		const near = this.measured + this.admittedSince + 2 * this.reserve >= this.limit;
		if (time - this.measuredAt >= (near ? 100 : 1000)) {
			this.measured = this.count();
			this.measuredAt = time;
			this.admittedSince = 0;
		}
		if (this.measured + this.admittedSince + this.reserve >= this.limit) return false;
		this.admittedSince += 1;
		return true;
	}

	/** Descriptors in use at the last reading plus those admitted since. */
	get estimate(): number {
		return this.measured + this.admittedSince;
	}
}

/** Descriptors kept free for existing sessions and logins under way: 1/16 of the limit, at least 64 and at most 1024. */
export function descriptorReserve(limit: number): number {
	return Math.min(1024, Math.max(64, Math.floor(limit / 16)));
}
