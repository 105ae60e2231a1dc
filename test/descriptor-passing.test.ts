import { once } from 'node:events';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
	closeDescriptor,
	connectUnixSocket,
	isUnixStreamSocket,
	receiveDescriptor,
	receiveExactly,
	sendAll,
	sendDescriptor,
	setReceiveTimeout,
} from '../server/src/common/descriptor-passing.js';

/** A listening Unix socket whose accepted connections are handed to `serve`, as a session host's are. */
async function listen(serve: (peer: Socket) => void): Promise<{ path: string; server: Server; cleanup: () => Promise<void> }> {
	const directory = await mkdtemp(join(tmpdir(), 'ssd-fd-'));
	const path = join(directory, 'peer.sock');
	const server = createServer(serve);
	server.listen(path);
	await once(server, 'listening');
	return { path, server, cleanup: async () => { server.close(); await rm(directory, { recursive: true, force: true }); } };
}

const openDescriptors = () => readdirSync('/proc/self/fd').length;
const descriptorOf = (socket: Socket) => (socket as unknown as { _handle: { fd: number } })._handle.fd;

test('a connected Unix socket handed over arrives as a working socket, and nothing leaks', async (t) => {
	const target = await listen((peer) => peer.on('data', (data) => peer.write(`echo:${data}`)));
	const host = await listen((peer) => {
		peer.once('data', () => {
			const kernel = connectUnixSocket(target.path);
			sendDescriptor(descriptorOf(peer), kernel);
			closeDescriptor(kernel);
			peer.destroy();
		});
	});
	t.teardown(async () => { await target.cleanup(); await host.cleanup(); });
	const before = openDescriptors();
	for (let round = 0; round < 20; round += 1) {
		const connection = connectUnixSocket(host.path);
		setReceiveTimeout(connection, 2_000);
		sendAll(connection, Buffer.from('please\n'));
		const descriptor = await receiveDescriptor(connection);
		closeDescriptor(connection);
		t.true(isUnixStreamSocket(descriptor));
		const socket = new Socket({ fd: descriptor, readable: true, writable: true });
		socket.write('ping');
		const [answer] = (await once(socket, 'data')) as [Buffer];
		t.is(answer.toString(), 'echo:ping');
		socket.destroy();
		await once(socket, 'close');
	}
	t.true(openDescriptors() <= before, 'every descriptor received was closed with its socket');
});

test('a peer that sends a file instead of a socket is recognised, so the daemon refuses it', async (t) => {
	const host = await listen((peer) => {
		const file = openSync('/etc/hostname', 'r');
		sendDescriptor(descriptorOf(peer), file);
		closeSync(file);
		peer.destroy();
	});
	t.teardown(host.cleanup);
	const connection = connectUnixSocket(host.path);
	setReceiveTimeout(connection, 2_000);
	const descriptor = await receiveDescriptor(connection);
	closeDescriptor(connection);
	t.false(isUnixStreamSocket(descriptor));
	closeDescriptor(descriptor);
});

test('a peer that closes, sends a plain byte, or stays silent gives an error, not a hang', async (t) => {
	const behaviours = ['close', 'plain byte', 'silent'] as const;
	for (const behaviour of behaviours) {
		const host = await listen((peer) => {
			if (behaviour === 'close') peer.destroy();
			else if (behaviour === 'plain byte') peer.write('D');
		});
		const connection = connectUnixSocket(host.path);
		setReceiveTimeout(connection, 500);
		const started = Date.now();
		await t.throwsAsync(receiveDescriptor(connection), undefined, behaviour);
		t.true(Date.now() - started < 3_000, `${behaviour}: bounded by the receive timeout`);
		closeDescriptor(connection);
		await host.cleanup();
	}
});

test('receiveExactly stops at what arrived when the peer closes early', async (t) => {
	const host = await listen((peer) => peer.end('SSD-HOST short'));
	t.teardown(host.cleanup);
	const connection = connectUnixSocket(host.path);
	setReceiveTimeout(connection, 2_000);
	const greeting = await receiveExactly(connection, 64);
	closeDescriptor(connection);
	t.is(greeting.toString(), 'SSD-HOST short');
});

test('connecting to a path that is no socket, or too long for one, fails with a clear error', (t) => {
	t.throws(() => connectUnixSocket('/nonexistent/ssd.sock'), { message: /connect \/nonexistent\/ssd\.sock failed/ });
	t.throws(() => connectUnixSocket(`/tmp/${'x'.repeat(120)}`), { message: /too long/ });
});
