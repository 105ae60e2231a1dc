/**
 * Kernel start-up (P4) for spyder-kernels 3.x, the kernels of Spyder 6.0 and
 * 6.1: bench/kernels.ts's start-up part, run inside each Debian root of
 * scripts/debian-root.mjs (trixie: spyder-kernels 3.0.3, sid: 3.1.3), on that
 * release's Node.js and Python, with this checkout bound in. Each run times
 * kernel/start → first execute reply through the server against the same
 * kernel launched and reached locally, in the same run (the ratio).
 *
 *   node --import=tsx bench/kernels-debian.ts   (build first: npx tsc -b; needs root and the roots, which npm test builds)
 *
 * Prints one JSON object on stdout, keyed by Spyder version; progress goes
 * to stderr. Knobs: BENCH_KERNEL_STARTS and BENCH_KERNEL_KINDS (default
 * spyder) are passed on to bench/kernels.ts.
 */
import { fileURLToPath } from 'node:url';
import { isBuilt, rootDirectory, runInRoot, spyderSuites } from '../scripts/debian-root.mjs';
import { createBench } from './helpers/run-bench.js';

const checkout = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** bench/kernels.ts gives itself under 3 minutes; the root adds its user, server and warm-ups. */
const ROOT_TIMEOUT_MS = 240_000;

const { log, run } = createBench({
	name: 'kernels-debian',
	tmpPrefix: 'ssd-bench-kdeb-',
	watchdogMs: Object.keys(spyderSuites).length * ROOT_TIMEOUT_MS + 30_000,
});

/** The report bench/kernels.ts printed last (pretty JSON, or one line when it failed), out of its interleaved stdout and stderr. */
function lastReport(output: string): Record<string, unknown> {
	const start = output.startsWith('{\n') ? 0 : output.lastIndexOf('\n{\n') + 1;
	if (start > 0 || output.startsWith('{\n')) {
		const end = output.indexOf('\n}\n', start);
		if (end > 0) return JSON.parse(output.slice(start, end + 2)) as Record<string, unknown>;
	}
	const line = output.split('\n').findLast((candidate) => candidate.startsWith('{"bench"'));
	return line ? (JSON.parse(line) as Record<string, unknown>) : { ok: false, error: 'no report', output: output.slice(-2000) };
}

async function main(): Promise<Record<string, unknown>> {
	if (process.getuid?.() !== 0) throw new Error('this bench needs root: it enters the Debian roots');
	const results: Record<string, unknown> = {};
	for (const [spyder, suite] of Object.entries(spyderSuites)) {
		if (!isBuilt(suite)) {
			results[spyder] = { skipped: `the ${suite} root is not built (npm test builds it)` };
			continue;
		}
		log(`Spyder ${spyder}: bench/kernels.ts start-up in the ${suite} root`);
		const env = {
			BENCH_KERNEL_STARTUP_ONLY: '1',
			BENCH_KERNEL_KINDS: process.env.BENCH_KERNEL_KINDS ?? 'spyder',
			...(process.env.BENCH_KERNEL_STARTS ? { BENCH_KERNEL_STARTS: process.env.BENCH_KERNEL_STARTS } : {}),
		};
		const inRoot = await runInRoot(rootDirectory(suite), '/usr/bin/node', ['--import=tsx', 'bench/kernels.ts'], {
			binds: [checkout],
			cwd: checkout,
			env,
			timeout: ROOT_TIMEOUT_MS,
		});
		const report = lastReport(inRoot.output);
		const startup = report.startup as
			| Record<string, { ratio: number; pairedRatioMedian: number; extraMs: number; forwarded: { totalMs: unknown }; local: { totalMs: unknown } }>
			| undefined;
		results[spyder] = {
			suite,
			exitCode: inRoot.exitCode,
			summary: Object.fromEntries(
				Object.entries(startup ?? {})
					.filter(([, value]) => typeof value === 'object' && value !== null && 'ratio' in value)
					.map(([kind, value]) => [
						kind,
						{
							forwardedMs: value.forwarded.totalMs,
							localMs: value.local.totalMs,
							ratio: value.ratio,
							pairedRatioMedian: value.pairedRatioMedian,
							extraMs: value.extraMs,
						},
					]),
			),
			report,
		};
	}
	return {
		note: "per Spyder: bench/kernels.ts (BENCH_KERNEL_STARTUP_ONLY) in that Spyder's Debian root; forwarded = kernel/start through the server to the first execute('1+1') reply through the forwarder, local = the same kernel launched and reached directly, in the same run",
		...results,
	};
}

await run(main);
