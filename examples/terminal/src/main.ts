#!/usr/bin/env node
/**
 * Finds a spyder-remote server on the local network (or takes HOST[:PORT]),
 * logs in, starts a kernel in one of your environments there, runs code in
 * it and prints what the code printed. The client library does the
 * spyder-remote part; the small Jupyter client of @spyder-remote/conformance
 * speaks to the kernel through the library's forwarder, as any Jupyter
 * frontend would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { connect, discover, HostKeyMismatchError, KernelForwarder, loadKeyPair, UnknownHostError, type RemoteSession } from '@spyder-remote/client';
import { JupyterClient } from '@spyder-remote/conformance/jupyter';

const usage = `Usage: node dist/main.js [HOST[:PORT]] [options]

Without HOST, the first server announced on the local network is used.
  --instance NAME     the announced server to use (ssd discover lists them)
  --interface IF      where to look for announcements (default: every interface)
  --user USER         the account to log in as (default: $USER)
  --password-stdin    read the password from standard input (default: this client's key,
                      registered with: ssd login HOST --save-key)
  --fingerprint F     the server's certificate fingerprint, if it is not pinned yet
  --env NAME          the environment's name, prefix or id (default: the first that can run the kernel)
  --kind K            spyder (default) or ipykernel
  --code CODE         the Python code to run`;

const { values, positionals } = parseArgs({
	allowPositionals: true,
	options: {
		instance: { type: 'string' },
		interface: { type: 'string', multiple: true },
		user: { type: 'string', default: process.env.USER },
		'password-stdin': { type: 'boolean', default: false },
		fingerprint: { type: 'string' },
		env: { type: 'string' },
		kind: { type: 'string', default: 'spyder' },
		code: { type: 'string', default: 'import os, platform, sys; print(f"{platform.node()}: Python {sys.version.split()[0]}, uid {os.getuid()}")' },
		help: { type: 'boolean', short: 'h', default: false },
	},
});

/** The first server announced within three seconds: discovery is unauthenticated, so only its address is used. */
async function findServer(): Promise<{ host: string; port: number; announcedFingerprint: string }> {
	const announcements = discover({ ...(values.interface ? { interfaces: values.interface } : {}), signal: AbortSignal.timeout(3000) });
	for await (const { type, server } of announcements) {
		if (type !== 'up' || (values.instance !== undefined && server.instanceName !== values.instance)) continue;
		console.error(`found ${server.instanceName} at ${server.addresses[0]}:${server.port}`);
		return { host: server.addresses[0]!, port: server.port, announcedFingerprint: server.fingerprint };
	}
	throw new Error(`no server${values.instance ? ` named ${values.instance}` : ''} announced itself; pass HOST[:PORT]`);
}

function readLine(): Promise<string> {
	return new Promise((resolve, reject) => {
		const lines = createInterface({ input: process.stdin });
		lines.once('line', (line) => {
			// Settled first: closing emits 'close', whose rejection must then change nothing.
			resolve(line);
			lines.close();
		});
		lines.once('close', () => reject(new Error('standard input ended before the password')));
	});
}

async function login(session: RemoteSession, user: string): Promise<void> {
	if (values['password-stdin']) {
		await session.loginWithPassword(user, await readLine());
		return;
	}
	const keyPair = await loadKeyPair();
	if (!keyPair) throw new Error('this client has no key yet: pass --password-stdin, or run ssd login HOST --save-key once');
	await session.loginWithKey(user, keyPair);
}

async function main(): Promise<number> {
	if (values.help) {
		console.log(usage);
		return 0;
	}
	if (values.kind !== 'spyder' && values.kind !== 'ipykernel') throw new Error('--kind is spyder or ipykernel');
	const kind = values.kind;
	if (!values.user) throw new Error('--user is required');
	const [target] = positionals;
	const parsed = target === undefined ? undefined : /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(target);
	if (target !== undefined && !parsed) throw new Error(`cannot read ${target} as HOST[:PORT]`);
	const server = parsed ? { host: (parsed[1] ?? parsed[2])!, port: Number(parsed[3] ?? 7446) } : await findServer();
	const session = await connect({
		...server,
		...(values.fingerprint ? { fingerprint: values.fingerprint } : {}),
		onWarning: (message) => console.error(`warning: ${message}`),
	});
	try {
		await login(session, values.user);
		const environments = await session.listEnvironments();
		const environment = values.env
			? environments.find((candidate) => [candidate.name, candidate.prefix, candidate.id].includes(values.env!))
			: environments.find((candidate) => !candidate.broken && (kind === 'spyder' ? candidate.spyderKernels : candidate.ipykernel));
		if (!environment)
			throw new Error(
				`no environment ${values.env ?? `that can run a ${kind} kernel`}; there are: ${environments.map((candidate) => candidate.name).join(', ')}`,
			);
		console.error(`starting a kernel (${kind}) in ${environment.name} (${environment.prefix})`);
		const kernel = await session.startKernel({ environment: environment.id, kind });
		// The forwarder writes a connection file too; a private directory keeps this run's out of Jupyter's list.
		const directory = await mkdtemp(join(tmpdir(), 'spyder-remote-example-'));
		const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: directory });
		try {
			const { shell, iopub } = forwarder.ports;
			const jupyter = await JupyterClient.connect({ shell: tcpConnect(shell!, '127.0.0.1'), iopub: tcpConnect(iopub!, '127.0.0.1') }, kernel.connection.key);
			await jupyter.waitReady();
			const outcome = await jupyter.execute(values.code!);
			jupyter.close();
			process.stdout.write(outcome.stdout);
			if (outcome.result?.['text/plain']) console.log(outcome.result['text/plain']);
			if (outcome.reply.status === 'ok') return 0;
			console.error(`${outcome.reply.ename}: ${outcome.reply.evalue}`);
			return 1;
		} finally {
			await forwarder.close();
			await rm(directory, { recursive: true, force: true });
			await session.shutdownKernel(kernel.id);
		}
	} finally {
		await session.close();
	}
}

main().then(
	(status) => (process.exitCode = status),
	(error: Error) => {
		// The library says what happened; which flag pins a fingerprint is this program's to say.
		const hint =
			error instanceof UnknownHostError
				? ` Then pass --fingerprint ${error.presented}.`
				: error instanceof HostKeyMismatchError
					? ' Then pass it with --fingerprint.'
					: '';
		console.error(`error: ${error.message}${hint}`);
		process.exitCode = 1;
	},
);
