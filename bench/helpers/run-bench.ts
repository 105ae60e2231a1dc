import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { round } from './stats.js';

/** An environment knob: unset, zero, negative or not a number means the default. */
export function positive(text: string | undefined, fallback: number): number {
	const value = Number(text);
	return text && Number.isFinite(value) && value > 0 ? value : fallback;
}

type Step = () => Promise<void> | void;

export interface BenchRun {
	/** A fresh temp dir, removed after every other cleanup step. */
	readonly tmp: string;
	/** Run once, newest first, when main ends, on SIGINT/SIGTERM and on the watchdog. */
	readonly cleanups: Step[];
	/** Last resort for exit paths that never reach the cleanups; synchronous, so it finishes before the process does. */
	atExit(handler: () => void): void;
	/** Runs as soon as a signal arrives: the cleanups take a while, and whoever sent it may not wait for them. */
	atSignal(handler: () => void): void;
	/** The machine's description for the report; the load average says how far to trust the figures. */
	machine(extra: Record<string, unknown>): Record<string, unknown>;
}

export interface BenchOptions {
	readonly name: string;
	readonly tmpPrefix: string;
	/** The whole run is abandoned (and cleaned up) past this. */
	readonly watchdogMs: number;
	/** Extra fields of the JSON printed when the run fails. */
	readonly failure?: Record<string, unknown>;
}

/**
 * Call first thing, for the clock. `run(main)` prints main's report as one
 * JSON object on stdout (progress goes to stderr, through `log`) and exits.
 */
export function createBench({ name, tmpPrefix, watchdogMs, failure }: BenchOptions) {
	const started = performance.now();
	const elapsedS = () => (performance.now() - started) / 1000;
	const log = (text: string) => process.stderr.write(`[bench/${name} ${elapsedS().toFixed(1)}s] ${text}\n`);

	async function report(main: (run: BenchRun) => Promise<Record<string, unknown>>, loadAtStart: number[]): Promise<Record<string, unknown>> {
		const tmp = await mkdtemp(join(tmpdir(), tmpPrefix));
		const cleanups: Step[] = [() => rm(tmp, { recursive: true, force: true })];
		let cleaning: Promise<void> | undefined;
		/** Runs the cleanup steps once, newest first; every caller waits for the same run. */
		const cleanup = () =>
			(cleaning ??= (async () => {
				for (const step of cleanups.splice(0).reverse()) {
					try {
						await step();
					} catch (error) {
						log(`cleanup step failed: ${(error as Error).message}`);
					}
				}
			})());
		const exitHandlers: (() => void)[] = [];
		const signalHandlers: (() => void)[] = [];
		const onExit = () => {
			for (const handler of exitHandlers) handler();
		};
		process.on('exit', onExit);
		let signalled = false;
		const onSignal = (signal: NodeJS.Signals) => {
			if (signalled) return;
			signalled = true;
			log(`${signal}: cleaning up`);
			for (const handler of signalHandlers) handler();
			void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
		};
		// Persistent listeners (not once): execa's signal-exit re-raises a signal nobody else listens to, killing us mid-cleanup.
		process.on('SIGINT', onSignal);
		process.on('SIGTERM', onSignal);
		const watchdog = setTimeout(() => {
			log(`watchdog: still running after ${watchdogMs / 1000} s, giving up`);
			void cleanup().finally(() => process.exit(1));
		}, watchdogMs);
		watchdog.unref();

		try {
			const result = await main({
				tmp,
				cleanups,
				atExit: (handler) => exitHandlers.push(handler),
				atSignal: (handler) => signalHandlers.push(handler),
				machine: (extra) => ({
					node: process.version,
					platform: `${process.platform} ${process.arch}`,
					cpus: cpus().length,
					cpuModel: cpus()[0]?.model,
					loadavgAtStart: loadAtStart,
					loadavgAtEnd: loadavg().map((value) => round(value, 2)),
					...extra,
				}),
			});
			return { bench: name, ok: true, ...result, durationS: round(elapsedS(), 1) };
		} finally {
			clearTimeout(watchdog);
			await cleanup();
			process.off('SIGINT', onSignal);
			process.off('SIGTERM', onSignal);
			process.off('exit', onExit);
		}
	}

	async function run(main: (run: BenchRun) => Promise<Record<string, unknown>>): Promise<never> {
		const loadAtStart = loadavg().map((value) => round(value, 2));
		try {
			const result = await report(main, loadAtStart);
			process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
			process.exit(0);
		} catch (error) {
			log(`failed: ${(error as Error).stack ?? error}`);
			process.stdout.write(`${JSON.stringify({ bench: name, ok: false, error: (error as Error).message, ...failure })}\n`);
			process.exit(1);
		}
	}

	return { log, elapsedS, run };
}
