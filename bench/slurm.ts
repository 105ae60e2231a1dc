/**
 * Slurm kernels (spec 6.15) against local kernels, measured in the same run
 * on the project's Slurm lab (scripts/slurm-lab.mjs): the time from
 * kernel/start to the first execute reply through the forwarder, and the
 * round-trip time of a trivial execute (`pass`) once connected, which shows what
 * the dial-back path (session host → dial-back TLS → node agent → ipc) adds.
 * Both kernels are ipykernel in the system Python, so the ratios compare
 * placements only. Prints one JSON object; needs root (a throwaway OS user,
 * the lab).
 *
 *   node --import=tsx bench/slurm.ts        (build first: npx tsc -b)
 *
 * Environment knobs: BENCH_STARTS (default 3), BENCH_ROUND_TRIPS (default 100).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { connect, KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import type { KernelStartParams } from '@spyder-remote/protocol';
import { createLogger, resolveConfig, startServer } from '@spyder-remote/server';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { slurmLab } from '../scripts/slurm-lab.mjs';
import { createTestUser, deleteTestUser } from '../test/helpers/os-users.js';
import { positive } from './helpers/run-bench.js';
import { median, round } from './helpers/stats.js';

const starts = Math.round(positive(process.env.BENCH_STARTS, 3));
const roundTrips = Math.round(positive(process.env.BENCH_ROUND_TRIPS, 100));
const log = (text: string) => process.stderr.write(`[bench/slurm] ${text}\n`);

interface Sample {
	readonly startMs: number;
	readonly roundTripMs: number;
}

/** One kernel: kernel/start to the first execute reply, then the median round trip of execute("pass"). */
async function sample(session: RemoteSession, directory: string, params: KernelStartParams): Promise<Sample> {
	const started = performance.now();
	const kernel = await session.startKernel(params);
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	try {
		await client.waitReady(60_000);
		await client.execute('1 + 1');
		const startMs = performance.now() - started;
		const trips: number[] = [];
		for (let index = 0; index < roundTrips; index += 1) {
			const sent = performance.now();
			await client.execute('pass');
			trips.push(performance.now() - sent);
		}
		return { startMs, roundTripMs: median(trips) };
	} finally {
		client.close();
		await forwarder.close();
		await session.shutdownKernel(kernel.id);
	}
}

async function main(): Promise<Record<string, unknown>> {
	if (process.getuid?.() !== 0) throw new Error('this bench needs root: it runs the Slurm lab and creates a throwaway OS user');
	await slurmLab.up();
	const user = await createTestUser();
	const directory = await mkdtemp(join(tmpdir(), 'ssd-bench-slurm-'));
	await execa('chmod', ['711', directory]);
	const config = resolveConfig({
		mode: 'system',
		listen: { host: slurmLab.controllerAddress, port: 0 },
		stateDir: join(directory, 'state'),
		runtimeDir: join(directory, 'run'),
		logLevel: 'warn',
		discovery: { enabled: false },
	});
	const server = await startServer(config, createLogger('warn'));
	try {
		const session = await connect({ host: slurmLab.controllerAddress, port: server.port, fingerprint: server.fingerprint, knownHosts: false });
		await session.loginWithPassword(user.name, user.password);
		const system = (await session.listEnvironments()).find((environment) => environment.kind === 'system')!;
		const local: Sample[] = [];
		const slurm: Sample[] = [];
		// Interleaved, so that a slow moment of the machine weighs on both.
		for (let index = 0; index < starts + 1; index += 1) {
			log(`round ${index + 1} of ${starts + 1} (the first is a warm-up)`);
			const localSample = await sample(session, directory, { environment: system.id, kind: 'ipykernel' });
			const slurmSample = await sample(session, directory, {
				environment: system.id,
				kind: 'ipykernel',
				placement: { kind: 'slurm', partition: 'debug', timeLimit: '5' },
			});
			if (index === 0) continue;
			local.push(localSample);
			slurm.push(slurmSample);
		}
		await session.close();
		const localStart = median(local.map((entry) => entry.startMs));
		const slurmStart = median(slurm.map((entry) => entry.startMs));
		const localTrip = median(local.map((entry) => entry.roundTripMs));
		const slurmTrip = median(slurm.map((entry) => entry.roundTripMs));
		return {
			bench: 'slurm',
			ok: true,
			note: 'start = kernel/start + forwarder + KernelClient.connect + waitReady + execute("1 + 1"); roundTrip = median execute("pass") through the forwarder; medians over the rounds after one warm-up; both ipykernel in /usr/bin/python3; Slurm on the one-node lab (scripts/slurm-lab.mjs, node in its own network namespace)',
			rounds: starts,
			roundTripsPerKernel: roundTrips,
			startMs: { local: round(localStart), slurm: round(slurmStart), ratio: round(slurmStart / localStart, 2) },
			roundTripMs: {
				local: round(localTrip, 3),
				slurm: round(slurmTrip, 3),
				addedBySlurmPath: round(slurmTrip - localTrip, 3),
				ratio: round(slurmTrip / localTrip, 2),
			},
		};
	} finally {
		await server.close();
		await deleteTestUser(user);
		await rm(directory, { recursive: true, force: true });
		await slurmLab.down();
	}
}

main().then(
	(report) => {
		process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
		process.exit(0);
	},
	(error: Error) => {
		process.stdout.write(`${JSON.stringify({ bench: 'slurm', ok: false, error: error.message })}\n`);
		process.exit(1);
	},
);
