import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ExecutionContext } from 'ava';
import { execa, type ResultPromise } from 'execa';
import { connect, type RemoteSession } from '@spyder-remote/client';
import { testConfig } from './server.js';

const ssdServer = join(import.meta.dirname, '..', '..', 'server', 'dist', 'bin', 'ssd-server.js');

export interface DaemonProcess {
	readonly pid: number;
	readonly port: number;
	/** The SHA-256 fingerprint of its certificate, as it printed it. */
	readonly fingerprint: string;
	/** Its log so far, one parsed JSON line each. */
	readonly log: readonly Record<string, unknown>[];
	/** Connects with the daemon's fingerprint pinned and no known_hosts file. */
	open(): Promise<RemoteSession>;
	/** Sends `signal` (SIGTERM: a clean stop) and waits until the daemon has exited. */
	kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface DaemonProcessOptions {
	/** Config keys over testConfig's; `auth` is merged key by key. */
	readonly config?: Record<string, unknown>;
	/** A command the daemon runs under, e.g. `['prlimit', '--nofile=256:256', '--']`. */
	readonly prefix?: readonly string[];
	/** The ssd-server command line; by default this checkout's build on this Node. A release test passes an unpacked archive's launcher. */
	readonly server?: readonly string[];
}

/**
 * `ssd-server start` in a child process of its own, so that a test can kill
 * it as an OOM killer would, in system mode on a loopback port with its
 * state and runtime directories below `directory` (which session hosts must
 * be able to reach: 0711). A daemon started again on the same directory
 * finds what the earlier one left. Resolves once it has printed its port.
 */
export async function startDaemonProcess(directory: string, options: DaemonProcessOptions = {}): Promise<DaemonProcess> {
	const configFile = join(directory, 'config.json');
	const { auth, ...config } = options.config ?? {};
	const defaults = testConfig(directory);
	// At info: tests read what the daemon logs.
	await writeFile(configFile, JSON.stringify({ ...defaults, logLevel: 'info', ...config, auth: { ...defaults.auth, ...(auth as object | undefined) } }));
	const [file, ...args] = [...(options.prefix ?? []), ...(options.server ?? [process.execPath, ssdServer]), 'start', '--config', configFile];
	const child: ResultPromise = execa(file!, args, { buffer: false, reject: false });
	const log: Record<string, unknown>[] = [];
	createInterface({ input: child.stderr! }).on('line', (line) => {
		try {
			log.push(JSON.parse(line) as Record<string, unknown>);
		} catch {
			// Not a log line (a Node warning, a crash): kept as its text.
			log.push({ msg: line });
		}
	});
	const started = await new Promise<{ port: number; fingerprint: string }>((resolve, reject) => {
		let output = '';
		child.stdout!.on('data', (chunk: Buffer) => {
			output += chunk.toString();
			const port = /listening on 127\.0\.0\.1:(\d+)/.exec(output)?.[1];
			const fingerprint = /certificate fingerprint: (SHA256:\S+)/.exec(output)?.[1];
			if (port && fingerprint) resolve({ port: Number(port), fingerprint });
		});
		void child.then((result) =>
			reject(new Error(`ssd-server exited (${result.signal ?? result.exitCode}) before it listened: ${JSON.stringify(log.slice(-5))}`)),
		);
	});
	return {
		pid: child.pid!,
		port: started.port,
		fingerprint: started.fingerprint,
		log,
		open: () => connect({ host: '127.0.0.1', port: started.port, fingerprint: started.fingerprint, knownHosts: false }),
		async kill(signal = 'SIGTERM') {
			child.kill(signal);
			await child;
		},
	};
}

/**
 * A daemon process in a throwaway directory of its own, stopped and removed
 * when the test ends.
 */
export async function startThrowawayDaemon(t: ExecutionContext, options: DaemonProcessOptions = {}): Promise<DaemonProcess> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-daemon-'));
	// Session hosts run as the test users and must reach their sockets below here.
	await chmod(directory, 0o711);
	const started = await startDaemonProcess(directory, options);
	t.teardown(async () => {
		await started.kill('SIGTERM').catch(() => undefined);
		await rm(directory, { recursive: true, force: true });
	});
	return started;
}
