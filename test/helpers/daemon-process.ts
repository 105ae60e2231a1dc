import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { connect, type RemoteSession } from '@spyder-remote/client';

const ssdServer = join(import.meta.dirname, '..', '..', 'server', 'dist', 'bin', 'ssd-server.js');

export interface DaemonProcess {
	readonly pid: number;
	readonly port: number;
	/** Its log so far, one parsed JSON line each. */
	readonly log: readonly Record<string, unknown>[];
	/** Connects with the daemon's fingerprint pinned and no known_hosts file. */
	open(): Promise<RemoteSession>;
	/** Sends `signal` (SIGTERM: a clean stop) and waits until the daemon has exited. */
	kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `ssd-server start` in a child process of its own, so that a test can kill
 * it as an OOM killer would, in system mode on a loopback port with its
 * state and runtime directories below `directory` (which session hosts must
 * be able to reach: 0711). A daemon started again on the same directory
 * finds what the earlier one left. Resolves once it has printed its port.
 */
export async function startDaemonProcess(directory: string): Promise<DaemonProcess> {
	const configFile = join(directory, 'config.json');
	await writeFile(
		configFile,
		JSON.stringify({
			mode: 'system',
			listen: { host: '127.0.0.1', port: 0 },
			stateDir: join(directory, 'state'),
			runtimeDir: join(directory, 'run'),
			logLevel: 'info',
			auth: { failureDelayMs: 0 },
			discovery: { enabled: false },
		}),
	);
	const child: ResultPromise = execa(process.execPath, [ssdServer, 'start', '--config', configFile], { buffer: false, reject: false });
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
		void child.then((result) => reject(new Error(`ssd-server exited (${result.signal ?? result.exitCode}) before it listened: ${JSON.stringify(log.slice(-5))}`)));
	});
	return {
		pid: child.pid!,
		port: started.port,
		log,
		open: () => connect({ host: '127.0.0.1', port: started.port, fingerprint: started.fingerprint, knownHosts: false }),
		async kill(signal = 'SIGTERM') {
			child.kill(signal);
			await child;
		},
	};
}
