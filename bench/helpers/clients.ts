// Many clients at once, for the benches: opening them a few at a time, and
// keeping one request in flight per client.
import { performance } from 'node:perf_hooks';

/**
 * `count` results of `open`, at most `limit` opening at a time (logins beyond
 * the daemon's maxStartups would only queue). If one fails, the ones opened
 * are handed to `close` and the error is thrown.
 */
export async function openMany<T>(count: number, limit: number, open: () => Promise<T>, close: (opened: T[]) => Promise<unknown>): Promise<T[]> {
	const opened: T[] = [];
	let started = 0;
	let failed = false;
	const worker = async () => {
		while (started < count && !failed) {
			started += 1;
			try {
				opened.push(await open());
			} catch (error) {
				failed = true;
				throw error;
			}
		}
	};
	// allSettled, not all: every worker has stopped before what was opened is closed.
	const results = await Promise.allSettled(Array.from({ length: Math.min(limit, count) }, worker));
	const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
	if (failure) {
		await close(opened);
		throw failure.reason;
	}
	return opened;
}

/** Completed requests per second while each of `pings` keeps one request outstanding for `durationMs`. */
export async function keepInFlight(pings: readonly (() => Promise<unknown>)[], durationMs: number): Promise<number> {
	let done = 0;
	const start = performance.now();
	const deadline = start + durationMs;
	const worker = async (ping: () => Promise<unknown>) => {
		while (performance.now() < deadline) {
			await ping();
			done += 1;
		}
	};
	await Promise.all(pings.map(worker));
	return done / ((performance.now() - start) / 1000);
}
