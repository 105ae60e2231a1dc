import { readFile, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { KernelForwarder, KernelGoneError, type RemoteSession } from '@spyder-remote/client';
import { KernelClient, type ConnectionInfo } from '../server/src/session-host/kernels/kernel-client.js';
import { runAs } from './helpers/as-user.js';
import { withTestUsers, type TestUser } from './helpers/os-users.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// The forwarder runs as this test process (root here), the kernel's owner on the laptop; a test user plays another local user.
const newUser = withTestUsers(test);
let server: TestServer;
let owner: TestUser;
let neighbour: TestUser;

test.before(async () => {
	requireRoot('these tests need root: they create OS users');
	[owner, neighbour] = await Promise.all([newUser(), newUser()]);
	server = await startTestServer();
});
test.after.always(async () => server?.stop());

async function ownerSession(t: { teardown(fn: () => Promise<void>): void }): Promise<RemoteSession> {
	const session = await server.open();
	t.teardown(async () => session.destroy());
	await session.loginWithPassword(owner.name, owner.password);
	return session;
}

async function startKernel(session: RemoteSession) {
	const environment = (await session.listEnvironments()).find((candidate) => candidate.kind === 'system')!;
	return session.startKernel({ environment: environment.id, kind: 'ipykernel' });
}

/**
 * Connects to a forwarded TCP port as another local user, sends a ZMTP 3.0
 * greeting and counts the bytes that come back within a few seconds: the
 * kernel's own greeting means a tunnel reached it.
 */
const eavesdropper = `
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(b"\\xff" + b"\\0" * 8 + b"\\x7f" + b"\\x03\\x00" + b"NULL".ljust(20, b"\\0") + b"\\0" + b"\\0" * 31)
received = b""
try:
    while len(received) < 64:
        chunk = s.recv(64)
        if not chunk:
            break
        received += chunk
except socket.timeout:
    pass
print(len(received))
`;

test("another local user who connects to a forwarded TCP port is refused before a tunnel opens; the owner's client works", async (t) => {
	const session = await ownerSession(t);
	const kernel = await startKernel(session);
	const errors: string[] = [];
	const forwarder = await KernelForwarder.open(session, kernel, {
		connectionDir: server.directory,
		transport: 'tcp',
		onError: (error) => errors.push(error.message),
	});
	t.teardown(async () => forwarder.close());
	for (const channel of ['iopub', 'shell'] as const) {
		const attempt = await runAs(neighbour, '/usr/bin/python3', ['-c', eavesdropper, String(forwarder.ports[channel])], { cwd: '/', timeout: 30_000 });
		t.is(attempt.stdout.trim(), '0', `uid ${neighbour.uid} got no byte of the kernel's ${channel} channel`);
	}
	t.true(
		errors.some((message) => message.includes(`from uid ${neighbour.uid}`)),
		errors.join('; '),
	);
	const client = await KernelClient.connect(JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as ConnectionInfo);
	t.teardown(() => client.close());
	await client.waitReady(20_000);
	t.is((await client.execute('print(6 * 7)')).stdout.trim(), '42');
	await session.shutdownKernel(kernel.id);
});

const runCode = `
import json, sys
from jupyter_client import BlockingKernelClient
client = BlockingKernelClient()
client.load_connection_file(sys.argv[1])
client.start_channels()
client.wait_for_ready(timeout=30)
reply = client.execute_interactive("print(6 * 7)", timeout=30, output_hook=lambda message: message["msg_type"] == "stream" and print(message["content"]["text"].strip()))
print(reply["content"]["status"])
`;
import { requireRoot } from './helpers/root.js';

test('the ipc transport: Unix sockets in a 0700 directory that jupyter_client connects to, removed at close', async (t) => {
	const session = await ownerSession(t);
	const kernel = await startKernel(session);
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory, transport: 'ipc' });
	const info = JSON.parse(await readFile(forwarder.connectionFile, 'utf8')) as { transport: string; ip: string; shell_port: number };
	t.is(info.transport, 'ipc');
	const socketDir = dirname(info.ip);
	t.is((await stat(socketDir)).mode & 0o777, 0o700);
	t.true((await stat(`${info.ip}-${info.shell_port}`)).isSocket(), 'channels listen at <ip>-<port>, as jupyter_client names them');
	const run = await execa('/usr/bin/python3', ['-c', runCode, forwarder.connectionFile], { reject: false, timeout: 60_000 });
	t.deepEqual(run.stdout.trim().split('\n'), ['42', 'ok'], run.stderr);
	await forwarder.close();
	await t.throwsAsync(stat(socketDir), { code: 'ENOENT' });
	await session.shutdownKernel(kernel.id);
});

test('the ipc transport refuses a kernel with a comm port, which Spyder finds by TCP port number', async (t) => {
	const session = await ownerSession(t);
	const environment = (await session.listEnvironments()).find((candidate) => candidate.kind === 'system')!;
	const kernel = await session.startKernel({ environment: environment.id, kind: 'spyder' });
	t.teardown(async () => session.shutdownKernel(kernel.id).then(() => undefined));
	t.not(kernel.commPort, undefined, "this machine's spyder-kernels 2.x opens a comm port");
	await t.throwsAsync(KernelForwarder.open(session, kernel, { connectionDir: server.directory, transport: 'ipc' }), { message: /comm port.*use tcp/ });
});

test('once the kernel is shut down, a frontend that keeps reconnecting costs the server one request, not one per attempt', async (t) => {
	const session = await ownerSession(t);
	const kernel = await startKernel(session);
	const errors: Error[] = [];
	const forwarder = await KernelForwarder.open(session, kernel, { connectionDir: server.directory, transport: 'tcp', onError: (error) => errors.push(error) });
	t.teardown(async () => forwarder.close());
	await session.shutdownKernel(kernel.id);
	const port = forwarder.ports.shell!;
	// What a ZMQ socket left open does: reconnect, ten times a second.
	const outcomes: string[] = [];
	for (let attempt = 0; attempt < 20; attempt++) {
		outcomes.push(
			await new Promise<string>((resolve) => {
				const socket = connect(port, '127.0.0.1');
				socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
				socket.once('close', () => resolve('closed'));
			}),
		);
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	t.is(errors.length, 1, errors.map((error) => error.message).join('; '));
	t.true(errors[0] instanceof KernelGoneError, 'the owner is told once that the kernel is gone');
	t.is(outcomes.at(-1), 'ECONNREFUSED', 'later attempts are refused locally, without asking the server');
});
