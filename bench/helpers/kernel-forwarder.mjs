// Child process for bench/kernels.ts: the client side of `ssd kernel start`,
// in a process of its own as it is deployed (a Jupyter frontend never shares
// a thread with the forwarder). One RemoteSession, logged in once; commands
// arrive as JSON lines on stdin and are answered as JSON lines on stdout,
// matched by `seq`:
//   {seq, op: 'login', host, port, fingerprint, user, password, connectionDir}
//   {seq, op: 'start', kind, environment}  -> kernel/start, then KernelForwarder.open
//   {seq, op: 'shutdown', id}               -> forwarder closed, then kernel/shutdown
// When stdin closes (or on SIGTERM/SIGINT) it closes its forwarders, shuts its
// kernels down and exits.
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { connect, KernelForwarder } from '@spyder-remote/client';

let session;
let connectionDir;
const forwarders = new Map();
const reply = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

async function handle(command) {
	switch (command.op) {
		case 'login': {
			connectionDir = command.connectionDir;
			session = await connect({ host: command.host, port: command.port, fingerprint: command.fingerprint, knownHosts: false });
			await session.loginWithPassword(command.user, command.password);
			const environments = await session.listEnvironments();
			const system = environments.find((environment) => environment.kind === 'system');
			if (!system) throw new Error(`no system environment among ${environments.map((environment) => environment.name).join(', ')}`);
			return { environment: { id: system.id, python: system.python, prefix: system.prefix, spyderKernels: system.spyderKernels, ipykernel: system.ipykernel } };
		}
		case 'start': {
			const t0 = performance.now();
			const kernel = await session.startKernel({ environment: command.environment, kind: command.kind });
			const t1 = performance.now();
			const forwarder = await KernelForwarder.open(session, kernel, {
				connectionDir,
				onError: (error) => process.stderr.write(`[kernel-forwarder] ${error.message}\n`),
			});
			const t2 = performance.now();
			forwarders.set(kernel.id, forwarder);
			return { kernel, connectionFile: forwarder.connectionFile, ports: forwarder.ports, kernelStartRpcMs: t1 - t0, forwarderOpenMs: t2 - t1 };
		}
		case 'shutdown': {
			await forwarders.get(command.id)?.close();
			forwarders.delete(command.id);
			await session.shutdownKernel(command.id);
			return {};
		}
		default:
			throw new Error(`unknown op ${command.op}`);
	}
}

let stopping = false;
async function stop() {
	if (stopping) return;
	stopping = true;
	const timer = setTimeout(() => process.exit(1), 15_000);
	for (const [id, forwarder] of forwarders) {
		await forwarder.close().catch(() => undefined);
		await session?.shutdownKernel(id).catch(() => undefined);
	}
	await session?.close().catch(() => undefined);
	clearTimeout(timer);
	process.exit(0);
}

createInterface({ input: process.stdin })
	.on('line', (line) => {
		let command;
		try {
			command = JSON.parse(line);
		} catch {
			return;
		}
		handle(command).then(
			(result) => reply({ seq: command.seq, ok: true, ...result }),
			(error) => reply({ seq: command.seq, ok: false, error: error?.message ?? String(error) }),
		);
	})
	.on('close', stop);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
