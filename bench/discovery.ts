/**
 * Discovery bench: the time from the start of browsing (`discover()`) to the
 * first resolved server (PTR, SRV, TXT and an address), over loopback and
 * between two network namespaces joined by a veth pair, against
 * `avahi-browse -rpt` on the same setup in the same run.
 *
 *   node --import=tsx bench/discovery.ts      (build first: npx tsc -b)
 *
 * Prints one JSON object on stdout; progress goes to stderr. The netns part
 * and avahi need root; without them those parts say why they were skipped.
 * BENCH_DISCOVERY_RUNS sets the samples per measurement (default 15).
 *
 * Our numbers are measured inside a running process, from the call to the
 * first `up` event. avahi-browse's are from spawning it to its first resolved
 * (`=`) line, so they include its start and its D-Bus round trips; the
 * daemon itself is already running. "cold" restarts avahi-daemon before each
 * sample, so its cache is empty as ours always is; "warm" answers from its cache.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { discover } from '@spyder-remote/client';
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';
import { createNetnsPair, type NetnsPair } from '../test/helpers/netns.js';

const TARGET_MEDIAN_MS = 50;
const RUNS = Math.max(1, Math.round(Number(process.env.BENCH_DISCOVERY_RUNS) || 15));
const AVAHI_COLD_RUNS = Math.min(RUNS, 5);
/** The responder answers one-shot queries from one address at 10 a second after a burst of 20; stay below. */
const PAUSE_BETWEEN_RUNS_MS = 120;
const SAMPLE_TIMEOUT_MS = 5000;
const RECORD_MULTICAST_INTERVAL_MS = 1100;
const isRoot = process.getuid?.() === 0;
const started = performance.now();
const log = (text: string) => process.stderr.write(`[bench/discovery ${((performance.now() - started) / 1000).toFixed(1)}s] ${text}\n`);

// ---------------------------------------------------------------- statistics

function summary(samples: number[]) {
	const sorted = [...samples].sort((a, b) => a - b);
	const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
	const round = (value: number) => Number(value.toFixed(2));
	return { n: sorted.length, medianMs: round(at(50)), p90Ms: round(at(90)), minMs: round(sorted[0]!), maxMs: round(sorted.at(-1)!) };
}

// ---------------------------------------------------------------- our browser

/** One sample: a fresh browser, timed until the instance resolves. */
async function browseOnce(instanceName: string, interfaces: string[]): Promise<number> {
	const begin = performance.now();
	const discovery = discover({ interfaces, knownHosts: false });
	try {
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(`${instanceName} not resolved within ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
			discovery.on('up', (server) => {
				if (server.instanceName !== instanceName) return;
				clearTimeout(timer);
				resolve();
			});
		});
		return performance.now() - begin;
	} finally {
		await discovery.close();
	}
}

async function browseSamples(instanceName: string, interfaces: string[], runs: number): Promise<number[]> {
	const samples: number[] = [];
	for (let run = 0; run < runs; run++) {
		samples.push(await browseOnce(instanceName, interfaces));
		await sleep(PAUSE_BETWEEN_RUNS_MS);
	}
	return samples;
}

/** Waits until the server has probed and announced, so that samples measure browsing, not server start. */
async function waitUntilAnnounced(instanceName: string, interfaces: string[]): Promise<void> {
	const deadline = Date.now() + 10_000;
	while (Date.now() < deadline) {
		if (
			await browseOnce(instanceName, interfaces).then(
				() => true,
				() => false,
			)
		)
			return;
	}
	throw new Error(`${instanceName} was never announced`);
}

// ---------------------------------------------------------------- avahi

interface Avahi {
	/** Spawn to first resolved line of `avahi-browse -rpt`, in ms. */
	browse(): Promise<number>;
	restart(): Promise<void>;
	stop(): Promise<void>;
}

const lines = (child: ResultPromise) => createInterface({ input: child.stdout! });

function inNamespace(namespace: string | undefined, file: string, args: string[]): [string, string[]] {
	return namespace ? ['ip', ['netns', 'exec', namespace, file, ...args]] : [file, args];
}

/**
 * A private D-Bus and an avahi-daemon on one interface, so that avahi-browse
 * works in a namespace and never touches a system avahi. Throws with the
 * reason when avahi cannot run here.
 */
async function startAvahi(directory: string, namespace: string | undefined, device: string): Promise<Avahi> {
	for (const binary of ['/usr/sbin/avahi-daemon', '/usr/bin/avahi-browse', '/usr/bin/dbus-daemon']) {
		if (!existsSync(binary)) throw new Error(`${binary} is missing (apt-get install avahi-daemon avahi-utils dbus)`);
	}
	if (!isRoot) throw new Error('avahi-daemon needs root');
	if (existsSync('/run/avahi-daemon/pid')) throw new Error('a system avahi-daemon is running; a second one would refuse to start');
	const busSocket = join(directory, 'bus');
	await writeFile(
		join(directory, 'bus.conf'),
		`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=${busSocket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>\n`,
	);
	await writeFile(
		join(directory, 'avahi.conf'),
		`[server]\nhost-name=ssd-bench-${randomBytes(3).toString('hex')}\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=${device}\nenable-dbus=yes\n[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\n`,
	);
	const env = { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${busSocket}` };
	const bus = execa('dbus-daemon', ['--config-file', join(directory, 'bus.conf'), '--nofork', '--nopidfile'], { reject: false, stdio: 'ignore' });
	for (let waited = 0; !existsSync(busSocket); waited += 20) {
		if (waited > 5000) throw new Error('dbus-daemon did not start');
		await sleep(20);
	}
	let daemon: ResultPromise | undefined;
	const startDaemon = async () => {
		const [file, args] = inNamespace(namespace, 'avahi-daemon', [
			'--no-drop-root',
			'--no-chroot',
			'--no-rlimits',
			'--no-proc-title',
			'-f',
			join(directory, 'avahi.conf'),
		]);
		const child = execa(file, args, { reject: false, env, stdout: 'ignore', stderr: 'pipe', buffer: false });
		daemon = child;
		await new Promise<void>((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error('avahi-daemon did not finish starting')), 10_000);
			createInterface({ input: child.stderr! }).on('line', (line) => {
				if (!line.includes('Server startup complete')) return;
				clearTimeout(timer);
				resolve();
			});
			void child.then((result) => reject(new Error(`avahi-daemon exited (${result.exitCode})`)));
		});
	};
	const stopDaemon = async () => {
		daemon?.kill('SIGTERM');
		await daemon;
	};
	await startDaemon();
	return {
		async browse() {
			const [file, args] = inNamespace(namespace, 'avahi-browse', ['-rpt', '_spyder-remote._tcp']);
			const begin = performance.now();
			const child = execa(file, args, { reject: false, env, stderr: 'ignore', buffer: false });
			try {
				await new Promise<void>((resolve, reject) => {
					const timer = setTimeout(() => reject(new Error(`avahi-browse resolved nothing within ${SAMPLE_TIMEOUT_MS} ms`)), SAMPLE_TIMEOUT_MS);
					lines(child)
						.on('line', (line) => {
							if (!line.startsWith('=;')) return;
							clearTimeout(timer);
							resolve();
						})
						.on('close', () => reject(new Error('avahi-browse -t ended ("all for now") before anything resolved')));
				});
				return performance.now() - begin;
			} finally {
				child.kill('SIGTERM');
				await child;
			}
		},
		async restart() {
			await stopDaemon();
			await startDaemon();
		},
		async stop() {
			await stopDaemon();
			bus.kill('SIGTERM');
			await bus;
		},
	};
}

async function avahiSamples(directory: string, namespace: string | undefined, device: string) {
	let avahi: Avahi | undefined;
	try {
		avahi = await startAvahi(directory, namespace, device);
		const cold: number[] = [];
		for (let run = 0; run < AVAHI_COLD_RUNS; run++) {
			if (run > 0) await avahi.restart();
			// A responder multicasts a record at most once a second (RFC 6762 §6): each cold query must be answerable.
			await sleep(RECORD_MULTICAST_INTERVAL_MS);
			cold.push(await avahi.browse());
		}
		const warm: number[] = [];
		for (let run = 0; run < RUNS; run++) warm.push(await avahi.browse());
		return { cold: summary(cold), warm: summary(warm) };
	} catch (error) {
		return { skipped: (error as Error).message };
	} finally {
		await avahi?.stop();
	}
}

// ---------------------------------------------------------------- the two setups

async function loopback(directory: string) {
	const instanceName = `bench-lo-${randomBytes(3).toString('hex')}`;
	const config = resolveConfig({
		mode: isRoot ? 'system' : 'personal',
		listen: { host: '127.0.0.1', port: 0 },
		stateDir: join(directory, 'state'),
		runtimeDir: join(directory, 'run'),
		logLevel: 'warn',
		discovery: { interfaces: ['lo'], instanceName },
	});
	const server = await startServer(config, createLogger('warn'));
	try {
		await waitUntilAnnounced(instanceName, ['lo']);
		log(`loopback: ${RUNS} samples of ours`);
		const ours = summary(await browseSamples(instanceName, ['lo'], RUNS));
		log('loopback: avahi-browse');
		const avahi = await avahiSamples(await mkdtemp(join(directory, 'avahi-')), undefined, 'lo');
		return { ours, meetsTarget: ours.medianMs <= TARGET_MEDIAN_MS, avahi };
	} finally {
		await server.close();
	}
}

async function netns(directory: string) {
	if (!isRoot) return { skipped: 'network namespaces need root' };
	const instanceName = `bench-ns-${randomBytes(3).toString('hex')}`;
	let pair: NetnsPair | undefined;
	let server: ResultPromise | undefined;
	try {
		pair = await createNetnsPair();
		const config = join(directory, 'netns.json');
		await writeFile(
			config,
			JSON.stringify({
				mode: 'system',
				listen: { host: pair.server.address, port: 7446 },
				stateDir: join(directory, 'state'),
				runtimeDir: join(directory, 'run-ns'),
				logLevel: 'warn',
				discovery: { instanceName },
			}),
		);
		server = pair.server.run(process.execPath, ['server/dist/bin/ssd-server.js', 'start', '--config', config], {
			reject: false,
			stderr: 'ignore',
			buffer: false,
		});
		await new Promise<void>((resolve, reject) => {
			lines(server!).on('line', (line) => line.startsWith('certificate fingerprint:') && resolve());
			void server!.then((result) => reject(new Error(`ssd-server exited (${result.exitCode})`)));
		});
		log(`netns: ${RUNS} samples of ours, browsing from the other namespace`);
		const browser = await pair.client.run(
			process.execPath,
			['--import=tsx', 'bench/discovery.ts', '--browse', instanceName, String(RUNS), pair.client.device],
			{ reject: false },
		);
		if (browser.exitCode !== 0) throw new Error(`the browser in the client namespace failed: ${String(browser.stderr).slice(-500)}`);
		const ours = summary(JSON.parse(String(browser.stdout)) as number[]);
		log('netns: avahi-browse');
		const avahi = await avahiSamples(await mkdtemp(join(directory, 'avahi-')), pair.client.namespace, pair.client.device);
		return { ours, meetsTarget: ours.medianMs <= TARGET_MEDIAN_MS, avahi };
	} catch (error) {
		return { skipped: (error as Error).message };
	} finally {
		server?.kill('SIGTERM');
		await server;
		await pair?.delete();
	}
}

// ---------------------------------------------------------------- entry

async function main(): Promise<void> {
	// `--browse NAME RUNS INTERFACE`: the half that runs inside the client namespace.
	const browseAt = process.argv.indexOf('--browse');
	if (browseAt !== -1) {
		const [instanceName, runs, device] = process.argv.slice(browseAt + 1);
		await waitUntilAnnounced(instanceName!, [device!]);
		process.stdout.write(`${JSON.stringify(await browseSamples(instanceName!, [device!], Number(runs)))}\n`);
		return;
	}
	const directory = await mkdtemp(join(tmpdir(), 'ssd-bench-discovery-'));
	// System-mode session directories below here must be reachable by their users.
	await chmod(directory, 0o711);
	try {
		const result = {
			targetMedianMs: TARGET_MEDIAN_MS,
			runs: RUNS,
			measures: 'ms from the start of browsing to the first resolved server (PTR, SRV, TXT, address)',
			loopback: await loopback(directory),
			netns: await netns(directory),
		};
		process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
	} finally {
		await rm(directory, { recursive: true, force: true });
	}
}

await main();
process.exit(0);
