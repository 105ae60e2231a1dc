import { readdir, readFile } from 'node:fs/promises';
import test from 'ava';
import { KernelForwarder, type RemoteSession } from '@spyder-remote/client';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { requireRoot } from './helpers/root.js';

const newUser = withTestUsers(test);
let server: TestServer;
let alice: TestUser;
const sessions: RemoteSession[] = [];

test.before(async () => {
	requireRoot('warm pool tests need root: they create OS users');
	alice = await newUser();
	// /usr is the prefix of Debian's /usr/bin/python3, which has ipykernel and spyder-kernels.
	server = await startTestServer({
		kernels: {
			warmPool: [
				{ environment: '/usr', kind: 'ipykernel' },
				{ environment: 'no-such-environment', kind: 'spyder' },
			],
		},
	});
});
test.after.always(async () => {
	for (const session of sessions) session.destroy();
	await server?.stop();
});

/** Pids of the user's ipykernel processes, from the process table. */
async function kernelProcesses(user: TestUser): Promise<number[]> {
	const pids: number[] = [];
	for (const entry of await readdir('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const [status, cmdline] = await Promise.all([readFile(`/proc/${entry}/status`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]).catch(() => ['', '']);
		if (new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm').test(status) && cmdline.includes('ipykernel_launcher')) pids.push(Number(entry));
	}
	return pids.sort((a, b) => a - b);
}

async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (accept(value) || Date.now() > deadline) return value;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

test.serial('a warm kernel is started at login, unlisted, taken by kernel/start, works, and is replaced', async (t) => {
	const session = await server.open();
	sessions.push(session);
	await session.loginWithPassword(alice.name, alice.password);
	const [warmPid] = await eventually(
		() => kernelProcesses(alice),
		(pids) => pids.length === 1,
		30_000,
	);
	t.truthy(warmPid, 'one warm kernel runs as the user: the entry naming no environment of hers is skipped');
	t.deepEqual(await session.listKernels(), [], 'warm kernels are not listed');

	const system = (await session.listEnvironments()).find((environment) => environment.prefix === '/usr')!;
	const states: string[] = [];
	session.onKernelEvent((event) => event.type === 'state' && states.push(event.params.state));
	const requestedAt = Date.now();
	const kernel = await session.startKernel({ environment: system.id, kind: 'ipykernel' });
	t.is(kernel.pid, warmPid, 'kernel/start took the warm kernel');
	t.true(Date.parse(kernel.startedAt) < requestedAt, 'startedAt is the earlier launch');
	t.is(kernel.state, 'idle');
	t.deepEqual(
		(await session.listKernels()).map((listed) => listed.id),
		[kernel.id],
	);

	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory });
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	await client.waitReady(20_000);
	t.is((await client.execute('import os; print(os.getuid(), os.getcwd())')).stdout.trim(), `${alice.uid} ${alice.home}`);
	client.close();
	await forwarder.close();
	t.true(states.includes('idle'), 'the taken kernel is announced once');

	const replaced = await eventually(
		() => kernelProcesses(alice),
		(pids) => pids.length === 2,
		30_000,
	);
	t.is(replaced.length, 2, 'a replacement warm kernel starts in the background');

	const cold = await session.startKernel({ environment: system.id, kind: 'ipykernel', cwd: '/tmp' });
	t.false(replaced.includes(cold.pid!), 'another cwd gets a kernel of its own');
	t.true(Date.parse(cold.startedAt) >= requestedAt);
	await session.shutdownKernel(cold.id);
	await session.shutdownKernel(kernel.id);
	t.deepEqual(await session.listKernels(), []);
});

test.serial('warm kernels stop with the session host, leaving no process of the user', async (t) => {
	const session = await server.open();
	sessions.push(session);
	await session.loginWithPassword(alice.name, alice.password);
	await eventually(
		() => kernelProcesses(alice),
		(pids) => pids.length >= 1,
		30_000,
	);
	await server.server.close();
	t.deepEqual(
		await eventually(
			() => kernelProcesses(alice),
			(pids) => pids.length === 0,
			15_000,
		),
		[],
	);
});
