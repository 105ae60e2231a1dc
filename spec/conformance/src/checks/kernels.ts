import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { ErrorCodes, TUNNEL_ALPN_PROTOCOL, type Environment, type Kernel, type KernelKind } from '@spyder-remote/protocol';
import { group, type Context } from '../context.js';
import { JupyterClient } from '../jupyter.js';
import { NotApplicable } from '../recorder.js';
import { assert, assertShape, expectError, openVerified, sleep, type Notification, type RpcPeer } from '../wire.js';
import { unusedId } from './environments.js';

/** kernel/start may take up to about two minutes (6.12.6). */
const startTimeoutMs = 150_000;
const notificationWait = 5000;
const tokenPattern = /^[0-9]{1,10}\.[A-Za-z0-9_-]{32}$/;

/** The first usable environment that can run an announced kind, preferring plain ipykernel, which starts and stops fastest. */
async function kernelEnvironment(context: Context, peer: RpcPeer, kinds: readonly KernelKind[]): Promise<{ environment: Environment; kind: KernelKind }> {
	if (!context.initialize.capabilities.environments)
		throw new NotApplicable('without capabilities.environments there is no environment id to start a kernel in');
	const { environments } = (await peer.request('environment/list', {}, { timeoutMs: 60_000 })) as { environments: Environment[] };
	const usable = environments.filter((environment) => environment.broken === undefined);
	const ipykernel = kinds.includes('ipykernel') ? usable.find((environment) => environment.ipykernel) : undefined;
	if (ipykernel) return { environment: ipykernel, kind: 'ipykernel' };
	const spyder = kinds.includes('spyder') ? usable.find((environment) => environment.spyderKernels !== undefined) : undefined;
	if (spyder) return { environment: spyder, kind: 'spyder' };
	throw new NotApplicable(`no environment of the user has what the announced kinds (${kinds.join(', ') || 'none'}) need`);
}

/** A tunnel that must be refused: the server closes it without sending a byte (6.13). */
async function refusedTunnel(context: Context, line: string): Promise<void> {
	const socket = await openVerified(context.target, TUNNEL_ALPN_PROTOCOL);
	let received = 0;
	socket.on('data', (chunk: Buffer) => (received += chunk.length));
	const closed = new Promise<boolean>((resolve) => socket.once('close', () => resolve(true)));
	// A ZMTP greeting after the line: a tunnel that was wrongly opened would be answered by the kernel's own greeting.
	socket.write(Buffer.concat([Buffer.from(`${line}\n`), Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3, 0])]));
	const closedInTime = await Promise.race([closed, sleep(notificationWait).then(() => false)]);
	socket.destroy();
	assert(received === 0, `the tunnel for ${line.slice(0, 12)}… answered ${received} bytes`);
	assert(closedInTime, `the tunnel for ${line.slice(0, 12)}… stayed open`);
}

const isState =
	(id: string, state: string) =>
	({ method, params }: Notification) =>
		method === 'kernel/didChangeState' && params?.id === id && params?.state === state;
/** Only notifications that arrived after the one at `index`. */
const after = (peer: RpcPeer, index: number, wanted: (notification: Notification) => boolean) => (notification: Notification) =>
	peer.notifications.indexOf(notification) > index && wanted(notification);

/** Sections 6.12 and 6.13: a kernel's whole life, driven through tunnels as any client must. */
export const kernelChecks = group(
	[
		'kernels.list',
		'kernels.not-found',
		'kernels.start',
		'kernels.state-idle',
		'kernels.connect',
		'tunnel.handshake',
		'tunnel.kernel-info',
		'tunnel.execute',
		'kernels.state-busy',
		'tunnel.single-use',
		'kernels.shutdown',
	],
	async (context) => {
		const { record } = context;
		const capability = context.initialize.capabilities.kernels;
		if (!capability) {
			record.notApplicable(kernelChecks.ids, 'the server does not announce capabilities.kernels');
			return;
		}
		const peer = await context.loggedIn();
		let known: string[] = [];
		await record.run('kernels.list', async () => {
			const result = await peer.request('kernel/list');
			assertShape('kernel/list', 'result', result);
			known = result.kernels.map((kernel: Kernel) => kernel.id);
		});
		await record.run('kernels.not-found', async () => {
			const id = unusedId(known);
			for (const method of ['kernel/attach', 'kernel/interrupt', 'kernel/shutdown']) {
				await expectError(peer.request(method, { id }), ErrorCodes.KernelNotFound, `${method} of an unknown id`);
			}
		});
		const choice = await kernelEnvironment(context, peer, capability.kinds).catch((error: Error) => error);
		const later = kernelChecks.ids.slice(kernelChecks.ids.indexOf('kernels.start'));
		if (choice instanceof NotApplicable) {
			record.notApplicable(later, choice.message);
			return;
		}
		if (choice instanceof Error) throw choice;
		let kernel: Kernel | undefined;
		let stopped = false;
		await record.run('kernels.start', async () => {
			const { environment, kind } = choice;
			const result = await peer.request('kernel/start', { environment: environment.id, kind }, { timeoutMs: startTimeoutMs });
			assertShape('kernel/start', 'result', result);
			kernel = result.kernel as Kernel;
			const id = kernel.id;
			context.onCleanup(async () => stopped || peer.request('kernel/shutdown', { id }, { timeoutMs: 30_000 }));
			assert(kernel.state === 'idle', `the new kernel is ${kernel.state}`);
			assert(
				kernel.kind === kind && kernel.environment.id === environment.id,
				`started ${kernel.kind} in ${kernel.environment.id}, asked for ${kind} in ${environment.id}`,
			);
			assert(/^[0-9a-f]{64}$/.test(kernel.connection.key), 'the key is not 64 hex digits');
		});
		if (!kernel) {
			record.blocked(later, 'kernel/start failed');
			return;
		}
		const { id, connection } = kernel;
		await record.run('kernels.state-idle', async () => {
			const { params } = await peer.waitFor(isState(id, 'idle'), notificationWait, `kernel/didChangeState idle for ${id}`);
			assertShape('kernel/didChangeState', 'params', params);
		});
		const tokens: Record<'shell' | 'iopub', string> = { shell: '', iopub: '' };
		const connected = await record.run('kernels.connect', async () => {
			for (const channel of ['shell', 'iopub'] as const) {
				const result = await peer.request('kernel/connect', { id, channel });
				assertShape('kernel/connect', 'result', result);
				assert(tokenPattern.test(result.token), `the ${channel} token does not have the form <uid>.<32 base64url characters>`);
				assert(Number.isInteger(result.expiresInMs) && result.expiresInMs > 0, `expiresInMs is ${result.expiresInMs}`);
				tokens[channel] = result.token;
			}
		});
		const tunnels: Partial<Record<'shell' | 'iopub', TLSSocket>> = {};
		const opened =
			connected &&
			(await record.run('tunnel.handshake', async () => {
				for (const channel of ['shell', 'iopub'] as const) {
					const socket = context.track(await openVerified(context.target, TUNNEL_ALPN_PROTOCOL));
					socket.write(`${tokens[channel]}\n`);
					tunnels[channel] = socket;
				}
			}));
		let client: JupyterClient | undefined;
		const ready =
			opened &&
			(await record.run('tunnel.kernel-info', async () => {
				client = await JupyterClient.connect({ shell: tunnels.shell!, iopub: tunnels.iopub! }, connection.key);
				const reply = await client.waitReady();
				assert(reply.content?.status === 'ok', `kernel_info_reply status ${reply.content?.status}`);
			}));
		if (ready && client) {
			const jupyter = client;
			const from = peer.notifications.length;
			await record.run('tunnel.execute', async () => {
				const outcome = await jupyter.execute('print(6*7)');
				assert(outcome.reply.status === 'ok', `execute_reply status ${outcome.reply.status}`);
				assert(outcome.stdout === '42\n', `stdout was ${JSON.stringify(outcome.stdout)}`);
			});
			await record.run('kernels.state-busy', async () => {
				const busy = await peer.waitFor(after(peer, from - 1, isState(id, 'busy')), notificationWait, `kernel/didChangeState busy for ${id}`);
				await peer.waitFor(
					after(peer, peer.notifications.indexOf(busy), isState(id, 'idle')),
					notificationWait,
					`kernel/didChangeState idle after busy for ${id}`,
				);
			});
			jupyter.close();
		} else {
			record.blocked(['tunnel.execute', 'kernels.state-busy'], 'no Jupyter connection through the tunnels');
		}
		if (opened) {
			await record.run('tunnel.single-use', async () => {
				await refusedTunnel(context, tokens.shell);
				await refusedTunnel(context, `${tokens.iopub.split('.')[0]}.${randomBytes(24).toString('base64url')}`);
			});
		} else {
			record.blocked(['tunnel.single-use'], 'no tunnel was opened, so no token was used');
		}
		await record.run('kernels.shutdown', async () => {
			const before = peer.notifications.length;
			const result = await peer.request('kernel/shutdown', { id }, { timeoutMs: 60_000 });
			const earlier = peer.notifications.slice(before);
			stopped = true;
			assert(result === null, `kernel/shutdown answered ${JSON.stringify(result)}`);
			const exited = earlier.findIndex(({ method, params }) => method === 'kernel/didExit' && params?.id === id);
			const dead = earlier.findIndex(isState(id, 'dead'));
			assert(exited !== -1, 'no kernel/didExit before the kernel/shutdown response');
			assert(dead !== -1, 'no kernel/didChangeState dead before the kernel/shutdown response');
			assert(exited < dead, 'kernel/didExit came after the dead state');
			assertShape('kernel/didExit', 'params', earlier[exited]!.params);
			assert(earlier[exited]!.params.restarting === false, 'kernel/didExit says restarting');
			const { kernels } = await peer.request('kernel/list');
			assert(!kernels.some((listed: Kernel) => listed.id === id), 'kernel/list still lists the kernel');
			await expectError(peer.request('kernel/attach', { id }), ErrorCodes.KernelNotFound, 'kernel/attach after shutdown');
		});
	},
);
